/** @module IndexedDB storage adapter (opened with `idb`): checkpoints that survive reloads and crashes, one transaction per commit, tabs coordinated. */
import { openDB, unwrap, type DBSchema, type IDBPDatabase, type IDBPTransaction } from 'idb'
import { isEdgegraphError, type EdgegraphError } from '../src/errors.js'
import { adapterError, checkPuts, conflict, pagedScan, quotaExceeded, sameBytes, type Batch, type Guard, type ScanRange, listed } from '../src/checkpoint/adapter.js'
import { createTabCoordinator, type BrowserAdapter } from './web-tabs.js'

export { requestPersistentStorage, type StorageStatus } from './web-tabs.js'

/**
 * A record that carries the time of its thread's last commit: the thread's stamp (`[thread, 0]`, no value) or the
 * value of the key a commit was guarded by, stamped by that commit.
 */
export interface StampedRecord {
  v?: Uint8Array
  updatedAt: number
}

/**
 * The object store edgegraph keeps, prefixed so it can live in an app's own database. Key `[thread, key]`, value the
 * stored bytes; the `updatedAt` index lists threads by their last commit (see {@link StampedRecord}).
 */
export interface EdgegraphDBSchema extends DBSchema {
  edgegraph_kv: { key: [string, string | number]; value: Uint8Array | StampedRecord; indexes: { updatedAt: number } }
}

/**
 * The schema version this code writes. Databases at a higher version were written by newer code.
 * Version 1 kept thread times in a second store (`edgegraph_threads`); version 2 keeps them in `edgegraph_kv`, so a
 * step writes one store with one request fewer. Opening a version 1 database upgrades it in place.
 */
export const INDEXEDDB_SCHEMA_VERSION = 2
const KV = 'edgegraph_kv'
/** Version 1's thread list; read (and migrated) only. */
const THREADS = 'edgegraph_threads'
const STAMPS = 'updatedAt'
/** The key (within a thread) of its stamp record: a number sorts before every string key, so scans never meet it. */
const STAMP_KEY = 0

/**
 * Options of {@link createIndexedDBAdapter}: which database (by name, or an open one of the app's), and how
 * commits and upgrades behave. The defaults suit an app that gives edgegraph a database of its own.
 */
export interface IndexedDBAdapterOptions {
  /** Database name (default `"edgegraph"`). Ignored when `db` is given. */
  name?: string
  /**
   * An open database to use instead (an `IDBDatabase` or an `idb` handle), e.g. the app's own. Create
   * edgegraph's stores in its upgrade callback with {@link upgradeEdgegraphStores}.
   */
  db?: IDBDatabase | IDBPDatabase<unknown>
  /** Transaction durability hint: `relaxed` is faster, `strict` flushes to disk before a commit resolves. */
  durability?: IDBTransactionDurability
  /** Largest value per key before the history layer splits it into chunks. Default 8 MiB. */
  maxValueBytes?: number
  /** How long to wait for other tabs to release an older version of the database. Default 5000 ms. */
  blockedTimeoutMs?: number
  /** @internal Tests only: open this schema version, to exercise upgrades. */
  schemaVersion?: number
}

/** The IndexedDB adapter: the storage contract plus cross-tab helpers. */
export interface IndexedDBAdapter extends BrowserAdapter {
  /** Closes the database connection (the adapter cannot be used afterwards). */
  close(): Promise<void>
}

const raw = <T extends object>(handle: T): T => (unwrap(handle as never) as T | undefined) ?? handle

/**
 * Creates edgegraph's object store, or brings an older layout up to date; call it from your own `upgrade` callback
 * when edgegraph lives in your app's database, passing the version the database had before and the upgrade
 * transaction. Without the transaction a database of an older layout is left as it is, and the adapter keeps
 * writing that layout (one request more per commit) until an upgrade passes it.
 *
 * @example
 * openDB('my-app', 4, { upgrade: (db, oldVersion, _, tx) => upgradeEdgegraphStores(db, oldVersion, tx) })
 */
export function upgradeEdgegraphStores(db: IDBDatabase | IDBPDatabase<unknown>, oldVersion: number, transaction?: IDBTransaction | IDBPTransaction<unknown, string[], 'versionchange'>): void {
  const database = raw(db as IDBDatabase)
  // The store checks rather than `oldVersion` decide: an app's own database adopts the stores at any of its versions.
  void oldVersion
  if (!database.objectStoreNames.contains(KV)) {
    database.createObjectStore(KV).createIndex(STAMPS, STAMPS)
    return
  }
  if (!transaction) return
  const tx = raw(transaction as IDBTransaction)
  const kv = tx.objectStore(KV)
  if (!kv.indexNames.contains(STAMPS)) kv.createIndex(STAMPS, STAMPS)
  if (!database.objectStoreNames.contains(THREADS)) return
  // Version 1 → 2: each thread's time becomes its stamp record, then the old store goes, in the same upgrade.
  const threads = tx.objectStore(THREADS)
  const keys = threads.getAllKeys()
  const rows = threads.getAll()
  rows.onsuccess = () => {
    ;(keys.result as string[]).forEach((thread, i) => kv.put({ updatedAt: (rows.result[i] as { updatedAt: number }).updatedAt }, [thread, STAMP_KEY]))
    database.deleteObjectStore(THREADS)
  }
}

/** The bytes of a stored record: a value as it was put, or the value a stamped record carries. */
export function storedBytes(record: Uint8Array | StampedRecord | undefined): Uint8Array | undefined {
  return record === undefined || record instanceof Uint8Array ? record : record.v
}

/**
 * Creates an adapter storing checkpoints in IndexedDB.
 *
 * A commit is one readwrite transaction on one store: the guard is read and every write queued at once, and the
 * transaction is committed as soon as the guard holds (or aborted, writing nothing). The guarded key's record carries
 * the commit's time, so a step costs a guard read and one request per key it writes.
 *
 * @example
 * const graph = builder.compile({ checkpointer: createIndexedDBAdapter({ name: 'my-app' }) })
 * await graph.invoke(null, { threadId })   // after a reload: continues where it stopped
 */
export function createIndexedDBAdapter(options: IndexedDBAdapterOptions = {}): IndexedDBAdapter {
  const name = options.db?.name ?? options.name ?? 'edgegraph'
  const adapter = { name: 'indexeddb', store: `database "${name}"` }
  const tabs = createTabCoordinator(`indexeddb:${name}`, adapter)
  const txOptions: IDBTransactionOptions | undefined = options.durability ? { durability: options.durability } : undefined
  let closed: EdgegraphError | undefined
  let opening: Promise<Handle> | undefined
  /** The open database, once known: calls then start their transaction without a promise hop. */
  let ready: Handle | undefined
  let request: PendingOpen | undefined

  const unavailable = (message: string, cause?: unknown) => adapterError(adapter, 'STORAGE_UNAVAILABLE', message, { cause })

  const database = (): Handle | Promise<Handle> => {
    if (closed) return Promise.reject(closed)
    if (ready) return ready
    opening ??= open().then(
      (handle) => (ready = handle),
      (err) => {
        opening = undefined
        throw err
      },
    )
    return opening
  }

  async function open(): Promise<Handle> {
    if (options.db) {
      const given = raw(options.db as IDBDatabase)
      if (!given.objectStoreNames.contains(KV)) {
        throw unavailable('the database has no edgegraph stores. Call upgradeEdgegraphStores(db, oldVersion, transaction) in its upgrade callback.')
      }
      return handleOf(given)
    }
    if (typeof indexedDB === 'undefined') throw unavailable('IndexedDB is not available in this environment (storage may be disabled).')
    const version = options.schemaVersion ?? INDEXEDDB_SCHEMA_VERSION
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      // A request that is blocked stays queued in the browser: a retry waits on the same request (a new one
      // would queue behind it and never hear `blocked`), with a fresh timeout if it is still blocked.
      request ??= startOpen(version)
      const pending = request
      const blocked = new Promise<never>((_, reject) => {
        const arm = () => {
          timer = setTimeout(
            () => reject(unavailable(`another tab keeps an older version open and does not release it. Close or reload the other tabs of this app, then retry.`)),
            options.blockedTimeoutMs ?? 5000,
          )
        }
        // Armed only once the open is blocked, so a slow but unblocked open is never cut short.
        if (pending.blocked) arm()
        else pending.onBlocked = arm
      })
      return handleOf(raw((await Promise.race([pending.db, blocked])) as unknown as IDBDatabase))
    } catch (err) {
      if (isEdgegraphError(err)) throw err
      const e = err as DOMException
      if (e?.name === 'VersionError') {
        throw unavailable(`the database was written by a newer version of this app (schema above ${version}). Update the app; nothing was changed.`, err)
      }
      throw unavailable(`the database cannot be opened (${e?.name ?? 'Error'}: ${e?.message ?? err}). Storage may be disabled, e.g. in private mode, an opaque origin or site settings.`, err)
    } finally {
      clearTimeout(timer)
    }
  }

  /** One open request and whether the browser reported it blocked. */
  function startOpen(version: number): PendingOpen {
    const pending: PendingOpen = { blocked: false, onBlocked: undefined, db: Promise.resolve() as never }
    // openDB throws synchronously where storage is denied (an opaque origin): a rejection here, mapped by open().
    pending.db = new Promise<IDBPDatabase<EdgegraphDBSchema>>((resolve) =>
      resolve(
        openDB<EdgegraphDBSchema>(name, version, {
          upgrade: (db, oldVersion, _newVersion, transaction) => upgradeEdgegraphStores(db as unknown as IDBDatabase, oldVersion, transaction as unknown as IDBTransaction),
          blocked: () => {
            pending.blocked = true
            pending.onBlocked?.()
          },
          blocking: () => {
            // Another tab wants a newer schema (or to delete the database): step aside so it does not hang,
            // and make this tab's further calls say why instead of failing obscurely.
            closed = unavailable('another tab upgraded or deleted this database. Reload this page to continue.')
            void pending.db.then((db) => db.close())
          },
          terminated: () => {
            closed = unavailable('the browser closed the connection (storage cleared, or the disk is unavailable). Reload this page.')
          },
        }),
      ),
    )
    pending.db.catch(() => {
      if (request === pending) request = undefined
    })
    return pending
  }

  /** Maps IndexedDB failures (DOMException names) to typed errors naming the database and thread. */
  const fail = (err: unknown, thread: string | undefined, writing: boolean): unknown => {
    if (isEdgegraphError(err)) return err
    const e = err as DOMException
    // Chromium reports some out-of-space writes as UnknownError.
    if (e?.name === 'QuotaExceededError' || (writing && e?.name === 'UnknownError')) return quotaExceeded(adapter, thread, `out of space (${e.name}${e.message ? `: ${e.message}` : ''})`, err)
    if (e?.name === 'InvalidStateError' || e?.name === 'TransactionInactiveError') {
      return closed ?? unavailable('the connection was closed (another tab upgraded or deleted the database). Reload this page.', err)
    }
    return adapterError(adapter, 'STORAGE_FAILED', `failed: ${e?.name ?? 'Error'}: ${e?.message ?? err}`, { thread, cause: err })
  }

  /** Runs `fn` on the open database, mapping whatever it throws or rejects with. */
  const withDb = async <T>(thread: string | undefined, writing: boolean, fn: (h: Handle) => T | Promise<T>): Promise<T> => {
    try {
      const h = ready && !closed ? ready : await database()
      return await fn(h)
    } catch (err) {
      throw fail(err, thread, writing)
    }
  }

  // Arrays sort after every string, so `[thread, []]` bounds all of a thread's keys.
  const range = (thread: string, from: string | undefined, to: string | undefined) => IDBKeyRange.bound([thread, from ?? ''], to === undefined ? [thread, []] : [thread, to], false, true)
  const BATCH = 256
  const maxValueBytes = options.maxValueBytes ?? 8 * 1024 * 1024

  return {
    name: 'indexeddb',
    limits: { maxValueBytes },

    get(thread, keys) {
      return withDb(thread, false, ({ db }) => {
        const store = db.transaction(KV, 'readonly').objectStore(KV)
        return settle(keys.map((k) => store.get([thread, k]))).then((records) => records.map((r) => storedBytes(r as Uint8Array | StampedRecord | undefined)))
      })
    },

    scan(thread, r: ScanRange = {}) {
      return pagedScan(r, BATCH, ({ from, to, reverse, count }) => withDb(thread, false, ({ db }) => readPage(db, range(thread, from, to), reverse, count)))
    },

    async commit(thread, batch: Batch, guard?: Guard) {
      checkPuts(batch, maxValueBytes, adapter, thread)
      await withDb(thread, true, (h) => write(h, thread, batch, guard))
      tabs.notify(thread)
    },

    async deleteThread(thread) {
      await withDb(thread, true, ({ db, legacy }) => {
        const tx = db.transaction(legacy ? [KV, THREADS] : [KV], 'readwrite', txOptions)
        // The stamp record (a number key) sorts before the thread's first string key.
        tx.objectStore(KV).delete(IDBKeyRange.bound([thread, STAMP_KEY], [thread, []]))
        if (legacy) tx.objectStore(THREADS).delete(thread)
        return done(tx)
      })
      tabs.notify(thread)
    },

    async *threads(opts = {}) {
      if (opts.limit === 0) return
      const list = await withDb(undefined, false, async ({ db, legacy }) => {
        const index = db.transaction(legacy ? THREADS : KV, 'readonly').objectStore(legacy ? THREADS : KV).index(STAMPS)
        const [keys, values] = await settle<unknown>([index.getAllKeys(), index.getAll()])
        // A thread may have more than one stamped record (its stamp, a guarded key): its time is the newest.
        const newest = new Map<string, number>()
        ;(keys as (string | [string, unknown])[]).forEach((key, i) => {
          const thread = legacy ? (key as string) : (key as [string, unknown])[0]
          const at = ((values as StampedRecord[])[i] as StampedRecord).updatedAt
          const seen = newest.get(thread)
          if (seen === undefined || at > seen) newest.set(thread, at)
        })
        // A browser store holds one user's threads: filtering them in memory is cheap.
        const all = [...newest].map(([thread, updatedAt]) => ({ thread, updatedAt })).sort((a, b) => a.updatedAt - b.updatedAt || (a.thread < b.thread ? -1 : a.thread > b.thread ? 1 : 0))
        return all.filter((info) => listed(info, opts)).slice(0, opts.limit)
      })
      yield* list
    },

    lockThread: (thread, fn, lockOptions) => tabs.lockThread(thread, fn, lockOptions),
    subscribe: (listener) => tabs.subscribe(listener),

    bytes(thread) {
      return withDb(thread, false, async ({ db }) => {
        let total = 0
        for (let from: IDBValidKey | undefined; ; ) {
          const query = thread === undefined ? (from === undefined ? undefined : IDBKeyRange.lowerBound(from, true)) : IDBKeyRange.bound(from ?? [thread, ''], [thread, []], from !== undefined, false)
          const store = db.transaction(KV, 'readonly').objectStore(KV)
          const [keys = [], values = []] = await settle<unknown[]>([store.getAllKeys(query, BATCH), store.getAll(query, BATCH)])
          keys.forEach((key, i) => {
            const k = (key as [string, string | number])[1]
            const bytes = storedBytes(values[i] as Uint8Array | StampedRecord)
            if (typeof k === 'string' && bytes) total += k.length + bytes.length
          })
          if (keys.length < BATCH) return total
          from = keys[keys.length - 1] as IDBValidKey
        }
      })
    },

    async close() {
      tabs.close()
      closed = unavailable('the adapter was closed.')
      if (!options.db && opening) (await opening.catch(() => undefined))?.db.close()
    },
  }

  /**
   * One commit: the guard read and every write are queued at once in one transaction; when the guard read comes
   * back the transaction is aborted (nothing written) or committed at once, without waiting for the writes' events.
   * Many deletes of one kind of key (a pack's loose records) become one range delete when a read of that range in
   * the same transaction shows it holds nothing else: one request instead of one per key.
   */
  function write({ db, legacy }: Handle, thread: string, batch: Batch, guard: Guard | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const tx = db.transaction(legacy ? [KV, THREADS] : [KV], 'readwrite', txOptions)
      let refused: unknown
      tx.oncomplete = () => resolve()
      tx.onabort = () => reject(refused ?? tx.error ?? new DOMException('The commit was aborted.', 'AbortError'))
      const abort = (why: unknown) => {
        if (refused !== undefined) return
        refused = why
        try {
          tx.abort()
        } catch {
          // already aborting: onabort reports `refused`
        }
      }
      // Committed once every read it waits on has come back (and this function has queued everything).
      let waiting = 1
      const ready = () => {
        if (--waiting === 0) (tx as { commit?: () => void }).commit?.()
      }
      try {
        const kv = tx.objectStore(KV)
        const now = Date.now()
        if (guard) {
          waiting++
          const check = kv.get([thread, guard.key])
          check.onsuccess = () => (sameBytes(storedBytes(check.result as Uint8Array | StampedRecord | undefined), guard.expect) ? ready() : abort(conflict(adapter, thread, guard.key)))
        }
        const puts = batch.put ?? []
        for (const keys of deleteGroups(batch.del ?? [], puts)) {
          if (keys.length < RANGE_DELETE_MIN) {
            for (const key of keys) kv.delete([thread, key])
            continue
          }
          // No key of the batch's puts lies in this range (deleteGroups), so deleting it after them changes none.
          waiting++
          const range = IDBKeyRange.bound([thread, keys[0] as string], [thread, keys[keys.length - 1] as string])
          const stored = kv.getAllKeys(range, keys.length + 1)
          stored.onsuccess = () => {
            try {
              const doomed = new Set(keys)
              if (stored.result.every((k) => doomed.has((k as [string, string])[1]))) kv.delete(range)
              else for (const key of keys) kv.delete([thread, key])
              ready()
            } catch (err) {
              abort(err)
            }
          }
        }
        // The guarded key's last put carries the commit's time; without one, the thread's stamp record does.
        let stampAt = -1
        if (guard && !legacy) puts.forEach(([key], i) => key === guard.key && (stampAt = i))
        puts.forEach(([key, value], i) => {
          // A view (a chunk of a larger record) is copied, or its whole buffer would be stored.
          const own = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength ? value : value.slice()
          kv.put(i === stampAt ? { v: own, updatedAt: now } : own, [thread, key])
        })
        if (legacy) tx.objectStore(THREADS).put({ updatedAt: now }, thread)
        else if (stampAt < 0) kv.put({ updatedAt: now }, [thread, STAMP_KEY])
        ready()
      } catch (err) {
        // A request refused synchronously (a value that cannot be cloned): nothing of this transaction lands.
        abort(err)
      }
    })
  }
}

/** Deletes of one kind of key, at least this many, are tried as one range delete. */
const RANGE_DELETE_MIN = 4

/**
 * The keys to delete in groups of one kind (the part up to the first `/`: `c/`, `w/`, `k/`), sorted; a group whose
 * range holds a key the batch puts goes key by key (deleted before the puts, as the contract orders them).
 */
function deleteGroups(del: readonly string[], puts: readonly [string, Uint8Array][]): string[][] {
  if (del.length < RANGE_DELETE_MIN) return [[...del]]
  const groups = new Map<string, string[]>()
  for (const key of [...new Set(del)].sort()) {
    const kind = key.slice(0, key.indexOf('/') + 1)
    const group = groups.get(kind)
    if (group) group.push(key)
    else groups.set(kind, [key])
  }
  const out: string[][] = []
  for (const keys of groups.values()) {
    const [first, last] = [keys[0] as string, keys[keys.length - 1] as string]
    if (puts.some(([key]) => key >= first && key <= last)) out.push(...keys.map((key) => [key]))
    else out.push(keys)
  }
  return out
}

/** The open database and which layout it holds: `legacy` = version 1's two stores, in an app's database not upgraded yet. */
interface Handle {
  db: IDBDatabase
  legacy: boolean
}

function handleOf(db: IDBDatabase): Handle {
  if (db.objectStoreNames.contains(THREADS)) {
    const legacy = !db.transaction(KV, 'readonly').objectStore(KV).indexNames.contains(STAMPS)
    if (legacy) return { db, legacy }
  }
  return { db, legacy: false }
}

interface PendingOpen {
  db: Promise<IDBPDatabase<EdgegraphDBSchema>>
  blocked: boolean
  onBlocked: (() => void) | undefined
}

/** The results of requests of one transaction, once all have succeeded; the first error rejects. */
function settle<T>(requests: IDBRequest[]): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out = new Array<T>(requests.length)
    let left = requests.length
    if (left === 0) return resolve(out)
    requests.forEach((req, i) => {
      req.onsuccess = () => {
        out[i] = req.result as T
        if (--left === 0) resolve(out)
      }
      req.onerror = () => reject(req.error)
    })
  })
}

/** Resolves when `tx` commits; rejects with its error when it aborts. */
function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onabort = () => reject(tx.error ?? new DOMException('The transaction was aborted.', 'AbortError'))
  })
}

type Records = (o: { query: IDBKeyRange; count: number; direction: IDBCursorDirection }) => IDBRequest<{ key: [string, string]; value: Uint8Array | StampedRecord }[]>

/** Up to `count` entries of a key range in one transaction, ascending or descending. */
async function readPage(db: IDBDatabase, query: IDBKeyRange, reverse: boolean, count: number): Promise<[string, Uint8Array][]> {
  const store = db.transaction(KV, 'readonly').objectStore(KV)
  // getAllRecords (Chromium 141+) reads keys and values in one request, either way.
  const records = (store as unknown as { getAllRecords?: Records }).getAllRecords
  if (typeof records === 'function') {
    const [page] = await settle<{ key: [string, string]; value: Uint8Array | StampedRecord }[]>([records.call(store, { query, count, direction: reverse ? 'prev' : 'next' })])
    return (page ?? []).map((r) => [r.key[1], storedBytes(r.value) as Uint8Array])
  }
  if (!reverse) {
    const [keys, values] = await settle<unknown[]>([store.getAllKeys(query, count), store.getAll(query, count)])
    return (keys ?? []).map((k, i) => [(k as [string, string])[1], storedBytes((values ?? [])[i] as Uint8Array | StampedRecord) as Uint8Array])
  }
  return new Promise((resolve, reject) => {
    const out: [string, Uint8Array][] = []
    const cursor = store.openCursor(query, 'prev')
    cursor.onsuccess = () => {
      const c = cursor.result
      if (!c) return resolve(out)
      out.push([(c.key as [string, string])[1], storedBytes(c.value as Uint8Array | StampedRecord) as Uint8Array])
      if (out.length < count) c.continue()
      else resolve(out)
    }
    cursor.onerror = () => reject(cursor.error)
  })
}
