/** Browser side of `npm run bench:sync`: `window.syncBench` builds a chat thread in IndexedDB and syncs it with the Worker. */
import { createIndexedDBAdapter } from '../adapters/indexeddb.js'
import { createSync, workerRemote } from '../src/sync/index.js'
import { benchGraph } from './engines/edgegraph.js'
import { makeMessages, payloadBytes } from './workloads.js'

/** One sync, as measured: wall time, requests, bytes sent (request bodies) and received (response bodies). */
export interface SyncSample {
  ms: number
  requests: number
  sentBytes: number
  receivedBytes: number
  checkpoints: number
}

export interface SyncBenchResult {
  n: number
  /** Bytes of message text in the thread. */
  payloadBytes: number
  /** Bytes the thread takes in the device's IndexedDB (keys + values). */
  storedBytes: number
  checkpoints: number
  push: SyncSample
  pull: SyncSample
  /** A sync with nothing new on either side (what background sync costs when idle). */
  idle: SyncSample
  /** One more turn (an input checkpoint and one step), then a sync. */
  oneStep: SyncSample
}

const utf8 = new TextEncoder()

async function run(url: string, token: string, n: number, tag: string): Promise<SyncBenchResult> {
  const thread = `chat-${n}-${tag}`
  const messages = makeMessages(n + 1)
  const a = createIndexedDBAdapter({ name: `sync-bench-a-${tag}` })
  const b = createIndexedDBAdapter({ name: `sync-bench-b-${tag}` })
  await benchGraph('chat', n, a, (i) => messages[i] as string).invoke({ messages: [] }, { threadId: thread, recursionLimit: n + 10, durability: 'async' })
  const storedBytes = await a.bytes(thread)
  let counter = { requests: 0, sentBytes: 0, receivedBytes: 0 }
  const counted: typeof fetch = async (input, init) => {
    counter.requests++
    counter.sentBytes += typeof init?.body === 'string' ? utf8.encode(init.body).length : 0
    const res = await fetch(input, init)
    const body = await res.arrayBuffer()
    counter.receivedBytes += body.byteLength
    return new Response(body, { status: res.status, headers: res.headers })
  }
  const remote = workerRemote({ url, token, fetch: counted })
  const [syncA, syncB] = [createSync({ local: a, remote }), createSync({ local: b, remote })]
  const measure = async (fn: () => Promise<{ pushed: number; pulled: number; error?: { message: string } }>): Promise<SyncSample> => {
    counter = { requests: 0, sentBytes: 0, receivedBytes: 0 }
    const t0 = performance.now()
    const r = await fn()
    const ms = performance.now() - t0
    if (r.error) throw new Error(r.error.message)
    return { ms, ...counter, checkpoints: r.pushed + r.pulled }
  }
  const push = await measure(() => syncA.syncThread(thread))
  const pull = await measure(() => syncB.syncThread(thread))
  const idle = await measure(() => syncA.syncThread(thread))
  // One more turn: the chat graph appends a message per step until it holds n; with n + 1 a new input adds one more
  // (an input checkpoint and one step).
  await benchGraph('chat', n + 1, a, (i) => messages[i] as string).invoke({ messages: [] }, { threadId: thread, recursionLimit: 20 })
  const oneStep = await measure(() => syncA.syncThread(thread))
  a.close()
  b.close()
  return { n, payloadBytes: payloadBytes('chat', n), storedBytes, checkpoints: push.checkpoints, push, pull, idle, oneStep }
}

declare global {
  interface Window {
    syncBench: { run: typeof run }
  }
}
window.syncBench = { run }
