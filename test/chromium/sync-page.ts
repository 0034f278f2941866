/** Browser side of the sync e2e: `window.sy` runs the Worker's counter graph on IndexedDB and syncs it with the real Worker. */
import { createIndexedDBAdapter, type IndexedDBAdapter } from '../../adapters/indexeddb.js'
import { createSync, workerRemote, type Sync, type SyncResult } from '../../src/sync/index.js'
import { counterGraph } from '../../worker/graphs.js'

type Graph = ReturnType<typeof counterGraph>
let adapter: IndexedDBAdapter
let graph: Graph
let sync: Sync
const runs = new Map<string, Promise<unknown>>()
const results: SyncResult[] = []
/** Threads this tab heard move (its own commits and other tabs'). */
const events: string[] = []

const plain = (r: SyncResult) => ({ ...r, error: r.error && { code: r.error.code, message: r.error.message } })

async function settle<T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; code: string | undefined; message: string }> {
  try {
    return { ok: true, value: await fn() }
  } catch (err) {
    return { ok: false, code: (err as { code?: string }).code, message: (err as Error).message }
  }
}

const sy = {
  open(db: string, url: string, token: string) {
    adapter = createIndexedDBAdapter({ name: db })
    graph = counterGraph(adapter)
    sync = createSync({ local: adapter, remote: workerRemote({ url, token, graph: 'counter' }) })
    sync.subscribe((_status, result) => result && results.push(result))
    adapter.subscribe(({ thread }) => events.push(thread))
  },
  /** Runs the counter to `target` (null continues), each step waiting `delayMs`. */
  run: (thread: string, input: { target: number; delayMs?: number } | null, checkpointId?: string) =>
    settle(async () => (await graph.invoke(input, { threadId: thread, ...(checkpointId ? { checkpointId } : {}) })).count as number),
  /** Starts a run without waiting for it. */
  start(thread: string, input: { target: number; delayMs?: number }) {
    runs.set(thread, graph.invoke(input, { threadId: thread }).catch(() => undefined))
  },
  state: (thread: string) =>
    settle(async () => {
      const s = await graph.getState({ threadId: thread })
      return { id: s.config.checkpointId as string, count: s.values.count as number, next: s.next }
    }),
  /** Every checkpoint, oldest first: id, parent, count. */
  history: (thread: string) =>
    settle(async () => {
      const out: { id: string; parent: string | undefined; count: number }[] = []
      for await (const s of graph.getStateHistory({ threadId: thread })) out.push({ id: s.config.checkpointId as string, parent: s.parentConfig?.checkpointId, count: s.values.count as number })
      return out.reverse()
    }),
  sync: async (thread: string) => plain(await sync.syncThread(thread)),
  startBackground: (threads: string[]) => sync.start({ threads, intervalMs: 60_000 }),
  status: () => ({ ...sync.status, error: sync.status.error && { code: sync.status.error.code, message: sync.status.error.message } }),
  results: () => results.map(plain),
  online: () => navigator.onLine,
  events: () => [...events],
}

declare global {
  interface Window {
    sy: typeof sy
  }
}
window.sy = sy
