/** Browser side of the Chromium e2e harness: `window.eg` drives edgegraph + IndexedDB from Playwright's `page.evaluate`. */
import { END, START, StateGraph, isEdgegraphError, type Durability, type StorageAdapter } from '../../src/index.js'
import * as indexeddb from '../../adapters/indexeddb.js'
import type { IndexedDBAdapter, IndexedDBAdapterOptions } from '../../adapters/indexeddb.js'

/** What a test sees of a state: small and JSON-able, yet any difference in the log changes `logHash`. */
export interface Summary {
  count: number
  target: number
  logLength: number
  logHash: string
}
export interface Snap {
  id: string
  parentId: string | undefined
  step: number
  source: string
  next: string[]
  summary: Summary
}
/** Every call settles to this, so a failure reaches the test with its code instead of as a page error. */
export type Outcome<T> = { ok: true; value: T; ms: number } | { ok: false; name: string; code: string | undefined; message: string; ms: number }

export interface RunOptions {
  /** Each step's node waits this long, so a reload, crash or other tab can land mid-run. */
  delayMs?: number
  /**
   * The node stops at a gate of this name until the test calls `eg.openGate(gate)`: the run is in flight (holding
   * its thread lock) for exactly as long as the test needs, whatever the machine's speed. `eg.atGate[gate]` turns
   * true when the node gets there.
   */
  gate?: string
  /** Only the step whose input count is this one stops at `gate` (default: any, so the first step does). */
  gateAt?: number
  /** Bytes of deterministic pseudo-random text each step appends to `log` (defeats compression). */
  padBytes?: number
  /** false: run over a view of the adapter without `lockThread`, like a writer that ignores the lock. */
  lock?: boolean
  ifBusy?: 'wait' | 'fail'
  /** Aborts the run's signal after this many ms (while it waits for the thread lock, say). */
  abortAfterMs?: number
  durability?: Durability
}
export type AdapterOptions = Pick<IndexedDBAdapterOptions, 'maxValueBytes' | 'blockedTimeoutMs' | 'schemaVersion' | 'durability'>

const adapters = new Map<string, IndexedDBAdapter>()
const running = new Map<string, Promise<Outcome<Summary>>>()
const held = new Map<string, IDBDatabase>()
const gates = new Map<string, { opened: Promise<void>; open: () => void }>()
function gate(name: string): { opened: Promise<void>; open: () => void } {
  let g = gates.get(name)
  if (!g) {
    let open!: () => void
    const opened = new Promise<void>((resolve) => (open = resolve))
    g = { opened, open }
    gates.set(name, g)
  }
  return g
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Deterministic text for step `i`, so an interrupted run and a reference run write the same bytes. */
function line(i: number, padBytes: number): string {
  let x = (i * 2654435761) >>> 0 || 1
  let out = `step ${i}:`
  for (let k = 0; k < padBytes; k++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out += String.fromCharCode(33 + ((x >>> 0) % 94))
  }
  return out
}

function summarize(values: { count: number; target: number; log: string[] }): Summary {
  let h = 0x811c9dc5
  for (const entry of values.log) for (let k = 0; k < entry.length; k++) h = Math.imul(h ^ entry.charCodeAt(k), 16777619)
  return { count: values.count, target: values.target, logLength: values.log.length, logHash: (h >>> 0).toString(16) }
}

async function settle<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  // `ms` is for messages only: tests assert what happened and in which order, never how long it took.
  const t0 = performance.now()
  try {
    const value = await fn()
    return { ok: true, value, ms: performance.now() - t0 }
  } catch (err) {
    const e = err as { name?: string; message?: string }
    return { ok: false, name: e?.name ?? 'Error', code: isEdgegraphError(err) ? err.code : undefined, message: e?.message ?? String(err), ms: performance.now() - t0 }
  }
}

/** The same store seen by a writer that does not take the thread lock (as `withoutLock` in test/conformance). */
function withoutLock(a: StorageAdapter): StorageAdapter {
  return { name: a.name, limits: a.limits, get: (t, k) => a.get(t, k), scan: (t, r) => a.scan(t, r), commit: (t, b, g) => a.commit(t, b, g), deleteThread: (t) => a.deleteThread(t), threads: (o) => a.threads(o) }
}

function adapter(db: string): IndexedDBAdapter {
  const a = adapters.get(db)
  if (!a) throw new Error(`harness: eg.open(${JSON.stringify(db)}) first`)
  return a
}

/** Counter-with-log loop: `step` adds 1 to count and appends a line until count reaches target. */
function graph(db: string, opts: RunOptions = {}) {
  const store = adapter(db)
  return new StateGraph({
    count: { default: () => 0 },
    target: { default: () => 0 },
    log: { default: (): string[] => [], reducer: (a: string[], b: string[]) => [...a, ...b] },
  })
    .addNode('step', async (s, ctx) => {
      if (opts.gate !== undefined && (opts.gateAt === undefined || s.count === opts.gateAt)) {
        eg.atGate[opts.gate] = true
        await gate(opts.gate).opened
      }
      await sleep(opts.delayMs ?? 0)
      eg.progress[ctx.threadId ?? ''] = s.count + 1
      return { count: s.count + 1, log: [line(s.count + 1, opts.padBytes ?? 16)] }
    })
    .addEdge(START, 'step')
    .addConditionalEdges('step', (s) => (s.count >= s.target ? END : 'step'))
    .compile({ checkpointer: opts.lock === false ? withoutLock(store) : store, ...(opts.durability ? { durability: opts.durability } : {}) })
}

const eg = {
  /** Per thread: the count the latest finished node produced (it may not be committed yet). */
  progress: {} as Record<string, number>,
  /** Threads this page heard moving through `subscribe`, in order. */
  events: [] as string[],
  /** Gates (see `RunOptions.gate`) a node of this page has reached. */
  atGate: {} as Record<string, boolean>,
  /** Lets the nodes waiting at `name` go on (and any that reach it later). */
  openGate(name: string): void {
    gate(name).open()
  },

  open(db: string, options: AdapterOptions = {}): void {
    adapters.set(db, indexeddb.createIndexedDBAdapter({ name: db, ...options }))
  },
  async close(db: string): Promise<void> {
    await adapters.get(db)?.close()
    adapters.delete(db)
  },
  subscribe(db: string): void {
    adapter(db).subscribe(({ thread }) => eg.events.push(thread))
  },

  run(db: string, thread: string, input: { target: number } | null, opts: RunOptions = {}): Promise<Outcome<Summary>> {
    const signal = opts.abortAfterMs === undefined ? undefined : AbortSignal.timeout(opts.abortAfterMs)
    const config = { threadId: thread, recursionLimit: 1000, ...(opts.ifBusy ? { ifBusy: opts.ifBusy } : {}), ...(signal ? { signal } : {}) }
    return settle(async () => summarize(await graph(db, opts).invoke(input, config)))
  },
  /** Starts a run without waiting for it (the test polls `progress`); `wait(key)` gets its outcome. */
  start(key: string, db: string, thread: string, input: { target: number } | null, opts: RunOptions = {}): void {
    running.set(key, eg.run(db, thread, input, opts))
  },
  wait(key: string): Promise<Outcome<Summary>> {
    const p = running.get(key)
    if (!p) throw new Error(`harness: no run started as ${JSON.stringify(key)}`)
    return p
  },

  getState(db: string, thread: string): Promise<Outcome<Snap>> {
    return settle(async () => snap(await graph(db).getState({ threadId: thread })))
  },
  history(db: string, thread: string): Promise<Outcome<Snap[]>> {
    return settle(async () => {
      const out: Snap[] = []
      for await (const s of graph(db).getStateHistory({ threadId: thread })) out.push(snap(s))
      return out
    })
  },
  bytes(db: string, thread?: string): Promise<Outcome<number>> {
    return settle(() => adapter(db).bytes(thread))
  },
  deleteThread(db: string, thread: string): Promise<Outcome<null>> {
    return settle(async () => (await graph(db).deleteThread(thread), null))
  },
  /** `navigator.storage.persist()` directly, and through the adapter's `requestPersistentStorage` helper. */
  async persist(): Promise<{ persisted: boolean; helper: indexeddb.StorageStatus }> {
    return { persisted: await navigator.storage.persist(), helper: await indexeddb.requestPersistentStorage() }
  },

  /** Plain IndexedDB, to play another app version or a careless tab. */
  raw: {
    /** Opens `db` at `version` and keeps it open, ignoring `versionchange` as a tab of an old app would. */
    holdOpen(db: string, version: number): Promise<number> {
      return new Promise((resolve, reject) => {
        const req = indexedDB.open(db, version)
        req.onupgradeneeded = () => req.result.createObjectStore('app')
        req.onsuccess = () => {
          req.result.onversionchange = () => {} // deliberately does not close: this is what blocks an upgrade
          held.set(db, req.result)
          resolve(req.result.version)
        }
        req.onerror = () => reject(req.error)
      })
    },
    release(db: string): void {
      held.get(db)?.close()
      held.delete(db)
    },
    /** Creates `db` at `version` with edgegraph's stores and a marker record, as a newer app would. */
    createAt(db: string, version: number): Promise<void> {
      return new Promise((resolve, reject) => {
        const req = indexedDB.open(db, version)
        req.onupgradeneeded = () => {
          indexeddb.upgradeEdgegraphStores(req.result, 0)
          req.result.createObjectStore('from_newer_app').put('marker', 'k')
        }
        req.onsuccess = () => (req.result.close(), resolve())
        req.onerror = () => reject(req.error)
      })
    },
    /** Version, store names and the marker of `db`, without upgrading it. */
    inspect(db: string): Promise<{ version: number; stores: string[]; marker: unknown }> {
      return new Promise((resolve, reject) => {
        const req = indexedDB.open(db)
        req.onsuccess = () => {
          const d = req.result
          const stores = [...d.objectStoreNames]
          if (!stores.includes('from_newer_app')) return (d.close(), resolve({ version: d.version, stores, marker: undefined }))
          const get = d.transaction('from_newer_app').objectStore('from_newer_app').get('k')
          get.onsuccess = () => (d.close(), resolve({ version: d.version, stores, marker: get.result }))
        }
        req.onerror = () => reject(req.error)
      })
    },
    /** Deletes `db`; says whether the request was blocked by an open connection on the way. */
    deleteDatabase(db: string): Promise<{ blocked: boolean }> {
      return new Promise((resolve, reject) => {
        let blocked = false
        const req = indexedDB.deleteDatabase(db)
        req.onblocked = () => (blocked = true)
        req.onsuccess = () => resolve({ blocked })
        req.onerror = () => reject(req.error)
      })
    },
  },
}

function snap(s: { values: { count: number; target: number; log: string[] }; next: string[]; metadata: { step: number; source: string }; config: { checkpointId: string }; parentConfig: { checkpointId: string } | undefined }): Snap {
  return { id: s.config.checkpointId, parentId: s.parentConfig?.checkpointId, step: s.metadata.step, source: s.metadata.source, next: s.next, summary: summarize(s.values) }
}

export type EgApi = typeof eg
declare global {
  interface Window {
    eg: EgApi
  }
}
window.eg = eg
