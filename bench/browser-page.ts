/** Browser side of `npm run bench:browser`: `window.bench` runs edgegraph + IndexedDB cases inside Chromium. */
import { scriptStart, txCount } from './browser-start.js'
import type { Durability, StorageAdapter } from '../src/index.js'
import { benchGraph } from './engines/edgegraph.js'
import { createIndexedDBAdapter, type IndexedDBAdapter } from '../adapters/indexeddb.js'
import { checkFinal, checkHistory, makeMessages, progress, stepSample, upperMedian, type BrowserRunSample, type Workload } from './workloads.js'

export interface PageCase {
  workload: Workload
  n: number
  /** edgegraph run-config durability. */
  durability: Durability
  /** IndexedDB transaction durability hint; undefined = the browser's default. */
  idbDurability?: IDBTransactionDurability
  warmupSteps: number
}

type Tx = { readwrite: number; readonly: number }

export interface PageSample extends BrowserRunSample {
  /** IndexedDB transactions opened during the timed invoke, getState and full history read. */
  tx: { run: Tx; getState: Tx; history: Tx }
  /** Adapter commits during the timed invoke, and how many of them wrote a pack (`p/` key). */
  commits: number
  packCommits: number
}

export interface RestoreSample {
  /** ms from navigation start to the first line of the bundle (page load, bundle fetch and compile). */
  scriptStartMs: number
  /** ms from navigation start to getState resolved with every message. */
  navToStateMs: number
  /** ms from script start to the same point: the library's part (open database, read, rebuild). */
  scriptToStateMs: number
  messages: number
  /** A second getState on the same graph object, database already open. */
  warmGetStateMs: number
  /** getStateHistory over every checkpoint, right after, in this fresh page. */
  historyMs: number
  checkpoints: number
}

const snapshot = (): Tx => ({ ...txCount })
const since = (t: Tx): Tx => ({ readwrite: txCount.readwrite - t.readwrite, readonly: txCount.readonly - t.readonly })
const messagesCache = new Map<number, string[]>()
const messagesFor = (n: number) => messagesCache.get(n) ?? (messagesCache.set(n, makeMessages(n)).get(n) as string[])

/** The adapter as the graph sees it, counting commits and pack commits on the way. */
function counting(adapter: IndexedDBAdapter, counts: { commits: number; packCommits: number }): StorageAdapter {
  return {
    ...adapter,
    commit(thread, batch, guard) {
      counts.commits++
      if (batch.put?.some(([k]) => k.startsWith('p/'))) counts.packCommits++
      return adapter.commit(thread, batch, guard)
    },
  }
}

/** The counter or chat graph of bench/workloads.ts (shared with the Node benchmark); `onStep` runs first in every node call. */
function graph(workload: Workload, n: number, store: StorageAdapter, onStep: () => void = () => {}) {
  // Messages are looked up at run time only: the restore page must not spend its time generating them.
  return benchGraph(workload, n, store, (i) => messagesFor(Math.max(n, 200))[i] as string, onStep)
}

/** Runs `n` steps on a fresh thread; returns what it timed. */
async function runOnce(c: PageCase, n: number, dbName: string): Promise<PageSample> {
  const adapter = createIndexedDBAdapter({ name: dbName, ...(c.idbDurability ? { durability: c.idbDurability } : {}) })
  const counts = { commits: 0, packCommits: 0 }
  const store = counting(adapter, counts)
  const stamps: number[] = []
  const input = c.workload === 'counter' ? { count: 0 } : { messages: [] }
  const messages = messagesFor(Math.max(n, 200))
  try {
    const tx0 = snapshot()
    const t0 = performance.now()
    const final = await graph(c.workload, n, store, () => stamps.push(performance.now())).invoke(input as never, { threadId: 't', recursionLimit: n + 10, durability: c.durability })
    const runMs = performance.now() - t0
    const run = since(tx0)
    checkFinal(c.workload, n, messages, final, 'invoke')
    if (stamps.length !== n) throw new Error(`node ran ${stamps.length} times, expected ${n}`)

    const tx1 = snapshot()
    const t1 = performance.now()
    const state = await graph(c.workload, n, store).getState({ threadId: 't' })
    const getStateMs = performance.now() - t1
    const getState = since(tx1)
    checkFinal(c.workload, n, messages, state.values, 'getState')

    const tx2 = snapshot()
    const t2 = performance.now()
    const seen: number[] = []
    for await (const s of graph(c.workload, n, store).getStateHistory({ threadId: 't' })) seen.push(progress(c.workload, s.values))
    const historyMs = performance.now() - t2
    const history = since(tx2)
    checkHistory(n, seen, 'getStateHistory')

    return {
      ...stepSample(stamps),
      runMs,
      bytesStored: await adapter.bytes('t'),
      getStateMs,
      historyMs,
      checkpoints: seen.length,
      tx: { run, getState, history },
      ...counts,
    }
  } finally {
    await adapter.close()
  }
}

/** Reads a thread back at module start when the URL asks (`?restore=<db>&n=<messages>`): the restore case. */
async function restore(dbName: string, n: number): Promise<RestoreSample> {
  const store = createIndexedDBAdapter({ name: dbName })
  const g = graph('chat', n, store)
  const state = await g.getState({ threadId: 't' })
  const at = performance.now()
  const messages = (state.values as { messages?: unknown[] }).messages?.length ?? -1
  if (messages !== n) throw new Error(`restored ${messages} messages, expected ${n}`)
  const t1 = performance.now()
  await g.getState({ threadId: 't' })
  const warmGetStateMs = performance.now() - t1
  const t2 = performance.now()
  let checkpoints = 0
  for await (const _ of g.getStateHistory({ threadId: 't' })) checkpoints++
  const historyMs = performance.now() - t2
  await store.close()
  return { scriptStartMs: scriptStart, navToStateMs: at, scriptToStateMs: at - scriptStart, messages, warmGetStateMs, historyMs, checkpoints }
}

const params = new URLSearchParams(location.search)
const restoreDb = params.get('restore')
const restored = restoreDb === null ? undefined : restore(restoreDb, Number(params.get('n')))
restored?.catch(() => {}) // reported when the driver asks for it

const bench = {
  /** A warm-up run on its own database, then the timed run on a fresh one; both databases are deleted after. */
  async run(c: PageCase): Promise<PageSample> {
    const id = Math.random().toString(36).slice(2)
    await runOnce(c, c.warmupSteps, `warm-${id}`)
    try {
      return await runOnce(c, c.n, `run-${id}`)
    } finally {
      await Promise.all([deleteDb(`warm-${id}`), deleteDb(`run-${id}`)])
    }
  },
  /** Writes a `n`-step chat thread "t" to database `db` (kept, for the restore pages). */
  async write(db: string, n: number): Promise<{ ms: number; bytes: number }> {
    const adapter = createIndexedDBAdapter({ name: db })
    const t0 = performance.now()
    await graph('chat', n, adapter).invoke({ messages: [] }, { threadId: 't', recursionLimit: n + 10, durability: 'async' })
    const ms = performance.now() - t0
    const bytes = await adapter.bytes('t')
    await adapter.close()
    return { ms, bytes }
  },
  /** The floor under a sync step: `n` sequential bare readwrite transactions, each putting 600 bytes; median ms per transaction. */
  async floor(n: number, idbDurability?: IDBTransactionDurability): Promise<number> {
    const name = `floor-${Math.random().toString(36).slice(2)}`
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(name, 1)
      req.onupgradeneeded = () => req.result.createObjectStore('s')
      req.onsuccess = () => resolve(req.result)
      req.onerror = () => reject(req.error)
    })
    const value = new Uint8Array(600).fill(42)
    const times: number[] = []
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      await new Promise<void>((resolve, reject) => {
        const tx = db.transaction('s', 'readwrite', idbDurability ? { durability: idbDurability } : undefined)
        tx.objectStore('s').put(value, i)
        tx.oncomplete = () => resolve()
        tx.onerror = () => reject(tx.error)
      })
      times.push(performance.now() - t0)
    }
    db.close()
    await deleteDb(name)
    return upperMedian(times)
  },
  restored(): Promise<RestoreSample> {
    if (!restored) throw new Error('this page was not opened with ?restore=<db>&n=<n>')
    return restored
  },
  deleteDb,
}

function deleteDb(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name)
    req.onsuccess = () => resolve()
    req.onerror = () => reject(req.error)
  })
}

declare global {
  interface Window {
    bench: typeof bench
  }
}
window.bench = bench
