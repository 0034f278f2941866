/** Browser side of `npm run bench:browser`: `window.bench` runs edgegraph + IndexedDB cases and their floors inside Chromium. */
import { scriptStart, txCount } from './browser-start.js'
import type { Durability, StorageAdapter } from '../src/index.js'
import { benchGraph } from './engines/edgegraph.js'
import { createIndexedDBAdapter, storedBytes, type IndexedDBAdapter } from '../adapters/indexeddb.js'
import { checkFinal, checkHistory, makeMessages, progress, type Workload } from './workloads.js'
import { stepFigures, summarize, type StepFigures, type Summary } from './browser-report.js'
import { isPackKey } from '../src/checkpoint/keys.js'

export interface PageCase {
  workload: Workload
  n: number
  /** edgegraph run-config durability. */
  durability: Durability
  /** IndexedDB transaction durability hint; undefined = the browser's default. */
  idbDurability?: IDBTransactionDurability
  warmupSteps: number
  /** Bare readwrite transactions timed in the same page, half before and half after the timed run. */
  floorTx: number
  /** Log progress to the console (the driver prints it) every this many steps; 0 = never. */
  progressEvery?: number
}

type Tx = { readwrite: number; readonly: number }

/** What one fresh page measures of one edgegraph case. Times in ms unless named. */
export interface PageSample extends StepFigures {
  runMs: number
  bytesStored: number
  getStateMs: number
  historyMs: number
  checkpoints: number
  /** IndexedDB transactions opened during the timed invoke, getState and full history read. */
  tx: { run: Tx; getState: Tx; history: Tx }
  /** Adapter commits during the timed invoke, and how many of them wrote a pack (`p/` key). */
  commits: number
  packCommits: number
  /** Bytes (keys + values) the timed run's commits put, over its commits: the size of one step's write. */
  bytesPerCommit: number
  /** The bare readwrite transaction putting `bytesPerCommit` bytes, timed in this page (µs per transaction). */
  floor: Summary & { valueBytes: number }
}

/** A cold restore and its floor, timed in one fresh page. */
export interface RestoreSample {
  /** Which ran first in the page: each pays the page's first IndexedDB open in turn. */
  order: 'restore-first' | 'floor-first'
  /** ms from creating the adapter to getState resolved with every message: open the database, read, rebuild. */
  restoreMs: number
  /** ms to open a copy of the same records (their own database, never opened in this page) and read them with one getAll. */
  floorMs: number
  floorBytes: number
  floorRecords: number
  /** ms from navigation start to the first line of the bundle (page load, bundle fetch and compile). */
  scriptStartMs: number
  /** ms from navigation start to the restored state in hand. */
  navToStateMs: number
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
const KEY_BYTES = new TextEncoder()

/** The adapter as the graph sees it, counting commits, pack commits and the bytes they put. */
function counting(adapter: IndexedDBAdapter, counts: { commits: number; packCommits: number; bytes: number }): StorageAdapter {
  return {
    ...adapter,
    commit(thread, batch, guard) {
      counts.commits++
      for (const [key, value] of batch.put ?? []) counts.bytes += KEY_BYTES.encode(key).length + value.length
      if (batch.put?.some(([k]) => isPackKey(k))) counts.packCommits++
      return adapter.commit(thread, batch, guard)
    },
  }
}

/** The counter or chat graph of bench/workloads.ts (shared with the Node benchmark); `onStep` runs first in every node call. */
function graph(workload: Workload, n: number, store: StorageAdapter, onStep: () => void = () => {}) {
  // Messages are looked up at run time only: the restore page must not spend its time generating them.
  return benchGraph(workload, n, store, (i) => messagesFor(Math.max(n, 200))[i] as string, onStep)
}

/** Runs `n` steps on a fresh thread and reads its state back; returns what it timed. `between` runs after the invoke, before the reads. */
async function runOnce(c: PageCase, n: number, dbName: string, between: () => Promise<void> = async () => {}): Promise<Omit<PageSample, 'floor' | 'historyMs' | 'checkpoints'>> {
  const adapter = createIndexedDBAdapter({ name: dbName, ...(c.idbDurability ? { durability: c.idbDurability } : {}) })
  const counts = { commits: 0, packCommits: 0, bytes: 0 }
  const store = counting(adapter, counts)
  const stamps: number[] = []
  const every = c.progressEvery ?? 0
  const input = c.workload === 'counter' ? { count: 0 } : { messages: [] }
  const messages = messagesFor(Math.max(n, 200))
  try {
    const onStep = () => {
      stamps.push(performance.now())
      if (every > 0 && stamps.length % every === 0) console.log(`progress ${stamps.length}/${n} steps`)
    }
    // The database is open before the clock starts, as an app's is after its first call: the floor's is too, and
    // opening is what the restore figures time.
    await adapter.get('t', ['h'])
    const tx0 = snapshot()
    const t0 = performance.now()
    const final = await graph(c.workload, n, store, onStep).invoke(input as never, { threadId: 't', recursionLimit: n + 10, durability: c.durability })
    const runMs = performance.now() - t0
    const run = since(tx0)
    checkFinal(c.workload, n, messages, final, 'invoke')
    if (stamps.length !== n) throw new Error(`node ran ${stamps.length} times, expected ${n}`)
    const runCounts = { ...counts }
    await between()

    const tx1 = snapshot()
    const t1 = performance.now()
    const state = await graph(c.workload, n, store).getState({ threadId: 't' })
    const getStateMs = performance.now() - t1
    const getState = since(tx1)
    checkFinal(c.workload, n, messages, state.values, 'getState')

    return {
      ...stepFigures(stamps, runMs, n),
      runMs,
      bytesStored: await adapter.bytes('t'),
      getStateMs,
      tx: { run, getState, history: { readwrite: 0, readonly: 0 } },
      commits: runCounts.commits,
      packCommits: runCounts.packCommits,
      bytesPerCommit: runCounts.bytes / Math.max(1, runCounts.commits),
    }
  } finally {
    await adapter.close()
  }
}

/** Reads the whole history of thread "t" in `dbName`, newest first, checking a checkpoint for every step. */
async function readHistory(c: PageCase, n: number, dbName: string): Promise<{ historyMs: number; checkpoints: number; tx: Tx }> {
  const adapter = createIndexedDBAdapter({ name: dbName })
  try {
    const tx0 = snapshot()
    const t0 = performance.now()
    const seen: number[] = []
    for await (const s of graph(c.workload, n, adapter).getStateHistory({ threadId: 't' })) seen.push(progress(c.workload, s.values))
    const historyMs = performance.now() - t0
    checkHistory(n, seen, 'getStateHistory')
    return { historyMs, checkpoints: seen.length, tx: since(tx0) }
  } finally {
    await adapter.close()
  }
}

/**
 * The floor under a sync step: `count` bare readwrite transactions one after another, each putting one value of
 * `bytes` bytes under a new key and awaited until `complete`, as the adapter's commits are. µs per transaction.
 */
async function floorTimes(db: IDBDatabase, count: number, bytes: number, idbDurability: IDBTransactionDurability | undefined, start: number): Promise<number[]> {
  const value = new Uint8Array(bytes).fill(42)
  const times: number[] = []
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction('s', 'readwrite', idbDurability ? { durability: idbDurability } : undefined)
      tx.objectStore('s').put(value, ['t', `c/${String(start + i).padStart(10, '0')}`])
      tx.oncomplete = () => resolve()
      tx.onabort = () => reject(tx.error)
    })
    times.push((performance.now() - t0) * 1000)
  }
  return times
}

function openRaw(name: string, upgrade?: (db: IDBDatabase) => void): Promise<IDBDatabase> {
  return new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(name)
    req.onupgradeneeded = () => (upgrade ?? ((db: IDBDatabase) => db.createObjectStore('s')))(req.result)
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

/** Reads a thread back at module start when the URL asks (`?restore=<db>&n=<messages>&order=...`): the restore case. */
async function restore(dbName: string, n: number, order: RestoreSample['order']): Promise<RestoreSample> {
  const floorFirst = order === 'floor-first'
  const floor = floorFirst ? await readFloor(`${dbName}-floor`) : undefined
  const t0 = performance.now()
  const store = createIndexedDBAdapter({ name: dbName })
  const g = graph('chat', n, store)
  const state = await g.getState({ threadId: 't' })
  const at = performance.now()
  const messages = (state.values as { messages?: unknown[] }).messages?.length ?? -1
  if (messages !== n) throw new Error(`restored ${messages} messages, expected ${n}`)
  const after = floorFirst ? (floor as Awaited<ReturnType<typeof readFloor>>) : await readFloor(`${dbName}-floor`)
  const t1 = performance.now()
  await g.getState({ threadId: 't' })
  const warmGetStateMs = performance.now() - t1
  const t2 = performance.now()
  let checkpoints = 0
  for await (const _ of g.getStateHistory({ threadId: 't' })) checkpoints++
  const historyMs = performance.now() - t2
  await store.close()
  return {
    order,
    restoreMs: at - t0,
    floorMs: after.ms,
    floorBytes: after.bytes,
    floorRecords: after.records,
    scriptStartMs: scriptStart,
    navToStateMs: at,
    messages,
    warmGetStateMs,
    historyMs,
    checkpoints,
  }
}

/** The read floor of a restore: open the copy's database and read all of thread "t" with one getAll. */
async function readFloor(name: string): Promise<{ ms: number; bytes: number; records: number }> {
  const t0 = performance.now()
  const db = await openRaw(name, () => {
    throw new Error(`floor database ${name} does not exist`)
  })
  const values = await new Promise<Uint8Array[]>((resolve, reject) => {
    const req = db.transaction('s', 'readonly').objectStore('s').getAll(IDBKeyRange.bound(['t', ''], ['t', []]))
    req.onsuccess = () => resolve(req.result as Uint8Array[])
    req.onerror = () => reject(req.error)
  })
  const ms = performance.now() - t0
  db.close()
  return { ms, bytes: values.reduce((s, v) => s + v.length, 0), records: values.length }
}

const params = new URLSearchParams(location.search)
const restoreDb = params.get('restore')
const restored = restoreDb === null ? undefined : restore(restoreDb, Number(params.get('n')), params.get('order') === 'floor-first' ? 'floor-first' : 'restore-first')
restored?.catch(() => {}) // reported when the driver asks for it

/** The timed run whose history `bench.history()` reads next, and the databases to delete after it. */
let kept: { c: PageCase; id: string } | undefined

const bench = {
  /**
   * A warm-up run (history read too) on its own database, half the floor transactions, the timed run, the other
   * half, then getState. The run's database is kept for `history()`, which deletes them all.
   */
  async run(c: PageCase): Promise<Omit<PageSample, 'historyMs' | 'checkpoints'>> {
    const id = Math.random().toString(36).slice(2)
    kept = { c, id }
    const floorDb = await openRaw(`floor-${id}`)
    try {
      const warm = await runOnce({ ...c, progressEvery: 0 }, c.warmupSteps, `warm-${id}`)
      await readHistory(c, c.warmupSteps, `warm-${id}`)
      const half = Math.ceil(c.floorTx / 2)
      // The floor's value is one step's write, as the warm-up measured it (the timed run writes the same sizes).
      const bytes = Math.max(1, Math.round(warm.bytesPerCommit))
      const before = await floorTimes(floorDb, half, bytes, c.idbDurability, 0)
      let after: number[] = []
      const sample = await runOnce(c, c.n, `run-${id}`, async () => {
        after = await floorTimes(floorDb, c.floorTx - half, bytes, c.idbDurability, half)
      })
      return { ...sample, floor: { ...summarize([...before, ...after]), valueBytes: bytes } }
    } finally {
      floorDb.close()
    }
  },
  /**
   * The full history of the last `run()`, newest first, then its databases deleted. Its own call: where it runs the
   * tab out of memory, the run's figures are already in hand.
   */
  async history(): Promise<{ historyMs: number; checkpoints: number; tx: Tx }> {
    if (!kept) throw new Error('history() reads the thread of the last run(): call run() first')
    const { c, id } = kept
    try {
      if ((c.progressEvery ?? 0) > 0) console.log('progress reading the full history')
      return await readHistory(c, c.n, `run-${id}`)
    } finally {
      kept = undefined
      await Promise.all([deleteDb(`warm-${id}`), deleteDb(`run-${id}`), deleteDb(`floor-${id}`)])
    }
  },
  /**
   * Writes a `n`-step chat thread "t" to database `db` (kept, for the restore pages), and a copy of its records
   * (the same keys and bytes) to `<db>-floor`, where the restore pages time the floor.
   */
  async write(db: string, n: number): Promise<{ ms: number; bytes: number; records: number }> {
    const adapter = createIndexedDBAdapter({ name: db })
    const t0 = performance.now()
    await graph('chat', n, adapter).invoke({ messages: [] }, { threadId: 't', recursionLimit: n + 10, durability: 'async' })
    const ms = performance.now() - t0
    const bytes = await adapter.bytes('t')
    await adapter.close()
    const source = await openRaw(db)
    const [keys, values] = await new Promise<[IDBValidKey[], unknown[]]>((resolve, reject) => {
      const store = source.transaction('edgegraph_kv', 'readonly').objectStore('edgegraph_kv')
      const range = IDBKeyRange.bound(['t', ''], ['t', []])
      const k = store.getAllKeys(range)
      const v = store.getAll(range)
      v.onsuccess = () => resolve([k.result, v.result])
      v.onerror = () => reject(v.error)
    })
    source.close()
    const copy = await openRaw(`${db}-floor`)
    await new Promise<void>((resolve, reject) => {
      const tx = copy.transaction('s', 'readwrite')
      keys.forEach((key, i) => tx.objectStore('s').put(storedBytes(values[i] as Uint8Array), key))
      tx.oncomplete = () => resolve()
      tx.onabort = () => reject(tx.error)
    })
    copy.close()
    return { ms, bytes, records: keys.length }
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
