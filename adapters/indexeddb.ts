/** @module IndexedDB storage adapter (on `idb`): checkpoints that survive reloads and crashes, one transaction per commit, tabs coordinated. */
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction } from 'idb'
import { isEdgegraphError, type EdgegraphError } from '../src/errors.js'
import { adapterError, checkPuts, conflict, pagedScan, quotaExceeded, sameBytes, type Batch, type Guard, type ScanRange, type ThreadInfo, listed } from '../src/checkpoint/adapter.js'
import { createTabCoordinator, type BrowserAdapter } from './web-tabs.js'

export { requestPersistentStorage, type StorageStatus } from './web-tabs.js'

/** The object stores edgegraph keeps. Their names are prefixed so they can live in an app's own database. */
export interface EdgegraphDBSchema extends DBSchema {
  /** Key `[thread, key]`, value the stored bytes. */
  edgegraph_kv: { key: [string, string]; value: Uint8Array }
  /** Key `thread`, value the time of its last commit. */
  edgegraph_threads: { key: string; value: { updatedAt: number }; indexes: { updatedAt: number } }
}

/** The schema version this code writes. Databases at a higher version were written by newer code. */
export const INDEXEDDB_SCHEMA_VERSION = 1
const KV = 'edgegraph_kv'
const THREADS = 'edgegraph_threads'

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
  /** @internal Tests only: open this schema version, to exercise upgrades before a second version exists. */
  schemaVersion?: number
}

/** The IndexedDB adapter: the storage contract plus cross-tab helpers. */
export interface IndexedDBAdapter extends BrowserAdapter {
  /** Closes the database connection (the adapter cannot be used afterwards). */
  close(): Promise<void>
}

/**
 * Creates edgegraph's object stores; call it from your own `upgrade` callback when edgegraph lives in
 * your app's database, passing the version the database had before.
 */
export function upgradeEdgegraphStores(db: IDBDatabase | IDBPDatabase<unknown>, oldVersion: number): void {
  const raw = db as IDBDatabase
  // Each schema version adds to the one before; an old database walks every step it missed. The store checks
  // let an app's own database adopt edgegraph's stores at any of its versions.
  if (oldVersion < 1 || !raw.objectStoreNames.contains(KV)) {
    if (!raw.objectStoreNames.contains(KV)) raw.createObjectStore(KV)
    if (!raw.objectStoreNames.contains(THREADS)) raw.createObjectStore(THREADS).createIndex('updatedAt', 'updatedAt')
  }
}

/**
 * Creates an adapter storing checkpoints in IndexedDB.
 *
 * @example
 * const graph = builder.compile({ checkpointer: createIndexedDBAdapter({ name: 'my-app' }) })
 * await graph.invoke(null, { threadId })   // after a reload: continues where it stopped
 */
export function createIndexedDBAdapter(options: IndexedDBAdapterOptions = {}): IndexedDBAdapter {
  const name = options.db?.name ?? options.name ?? 'edgegraph'
  const adapter = { name: 'indexeddb', store: `database "${name}"` }
  const tabs = createTabCoordinator(`indexeddb:${name}`, adapter)
  let closed: EdgegraphError | undefined
  let opening: Promise<IDBPDatabase<EdgegraphDBSchema>> | undefined
  let request: PendingOpen | undefined

  const unavailable = (message: string, cause?: unknown) => adapterError(adapter, 'STORAGE_UNAVAILABLE', message, { cause })

  const database = (): Promise<IDBPDatabase<EdgegraphDBSchema>> => {
    if (closed) return Promise.reject(closed)
    opening ??= open().catch((err) => {
      opening = undefined
      throw err
    })
    return opening
  }

  async function open(): Promise<IDBPDatabase<EdgegraphDBSchema>> {
    if (options.db) {
      const given = options.db as unknown as IDBPDatabase<EdgegraphDBSchema>
      if (!given.objectStoreNames.contains(KV) || !given.objectStoreNames.contains(THREADS)) {
        throw unavailable('the database has no edgegraph stores. Call upgradeEdgegraphStores(db, oldVersion) in its upgrade callback.')
      }
      return given
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
      return await Promise.race([pending.db, blocked])
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
    pending.db = openDB<EdgegraphDBSchema>(name, version, {
      upgrade: (db, oldVersion) => upgradeEdgegraphStores(db as unknown as IDBPDatabase<unknown>, oldVersion),
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
    })
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

  const upper = (thread: string): [string, string[]] => [thread, []] // arrays sort after every string
  const range = (thread: string, r: ScanRange) => IDBKeyRange.bound([thread, r.from ?? ''], r.to === undefined ? upper(thread) : [thread, r.to], false, true)
  const BATCH = 256
  const maxValueBytes = options.maxValueBytes ?? 8 * 1024 * 1024

  return {
    name: 'indexeddb',
    limits: { maxValueBytes },

    async get(thread, keys) {
      try {
        const db = await database()
        const tx = db.transaction(KV, 'readonly')
        const values = await Promise.all(keys.map((k) => tx.store.get([thread, k])))
        await tx.done
        return values
      } catch (err) {
        throw fail(err, thread, false)
      }
    },

    scan(thread, r: ScanRange = {}) {
      return pagedScan(r, BATCH, async ({ from, to, reverse, count }) => {
        try {
          return await readBatch(await database(), range(thread, { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) }), reverse, count)
        } catch (err) {
          throw fail(err, thread, false)
        }
      })
    },

    async commit(thread, batch: Batch, guard?: Guard) {
      checkPuts(batch, maxValueBytes, adapter, thread)
      try {
        const db = await database()
        const tx = db.transaction([KV, THREADS], 'readwrite', options.durability ? { durability: options.durability } : undefined)
        const kv = tx.objectStore(KV)
        const done = tx.done
        try {
          if (guard) {
            const current = await kv.get([thread, guard.key])
            if (!sameBytes(current, guard.expect)) {
              tx.abort()
              await done.catch(() => {})
              throw conflict(adapter, thread, guard.key)
            }
          }
          // Queue every request, then wait once: all of them belong to this one transaction.
          const requests: Promise<unknown>[] = []
          for (const key of batch.del ?? []) requests.push(kv.delete([thread, key]))
          // Copy views so a chunk (a subarray) stores only its own bytes, not its whole buffer.
          for (const [key, value] of batch.put ?? []) requests.push(kv.put(value.slice(), [thread, key]))
          requests.push(tx.objectStore(THREADS).put({ updatedAt: Date.now() }, thread))
          await Promise.all(requests)
          await done
        } catch (err) {
          await done.catch(() => {})
          throw err
        }
      } catch (err) {
        throw fail(err, thread, true)
      }
      tabs.notify(thread)
    },

    async deleteThread(thread) {
      try {
        const db = await database()
        const tx = db.transaction([KV, THREADS], 'readwrite')
        await Promise.all([tx.objectStore(KV).delete(IDBKeyRange.bound([thread, ''], upper(thread))), tx.objectStore(THREADS).delete(thread), tx.done])
      } catch (err) {
        throw fail(err, thread, true)
      }
      tabs.notify(thread)
    },

    async *threads(opts = {}) {
      let list: ThreadInfo[]
      try {
        const db = await database()
        const index = db.transaction(THREADS).store.index('updatedAt')
        const query = opts.updatedBefore === undefined ? undefined : IDBKeyRange.upperBound(opts.updatedBefore, true)
        if (opts.limit === 0) return // a count of 0 means "all" to IndexedDB
        // With a prefix or a cursor the limit applies after filtering: a browser store holds one user's threads.
        const filtered = opts.prefix !== undefined || opts.after !== undefined
        const [keys, values] = await Promise.all([index.getAllKeys(query, filtered ? undefined : opts.limit), index.getAll(query, filtered ? undefined : opts.limit)])
        list = keys.map((thread, i) => ({ thread, updatedAt: (values[i] as { updatedAt: number }).updatedAt }))
        if (filtered) list = list.filter((info) => listed(info, opts)).slice(0, opts.limit)
      } catch (err) {
        throw fail(err, undefined, false)
      }
      yield* list
    },

    lockThread: (thread, fn, lockOptions) => tabs.lockThread(thread, fn, lockOptions),
    subscribe: (listener) => tabs.subscribe(listener),

    async bytes(thread) {
      try {
        const db = await database()
        const query = thread === undefined ? undefined : IDBKeyRange.bound([thread, ''], upper(thread))
        let total = 0
        let cursor = await db.transaction(KV).store.openCursor(query)
        while (cursor) {
          total += (cursor.key[1] as string).length + cursor.value.length
          cursor = await cursor.continue()
        }
        return total
      } catch (err) {
        throw fail(err, thread, false)
      }
    },

    async close() {
      tabs.close()
      closed = unavailable('the adapter was closed.')
      if (!options.db && opening) (await opening.catch(() => undefined))?.close()
    },
  }
}

interface PendingOpen {
  db: Promise<IDBPDatabase<EdgegraphDBSchema>>
  blocked: boolean
  onBlocked: (() => void) | undefined
}

type KVTransaction = IDBPTransaction<EdgegraphDBSchema, ['edgegraph_kv'], 'readonly'>

/** Up to `count` entries of a key range in one transaction, ascending or descending. */
async function readBatch(db: IDBPDatabase<EdgegraphDBSchema>, query: IDBKeyRange, reverse: boolean, count: number): Promise<[string, Uint8Array][]> {
  const tx: KVTransaction = db.transaction(KV, 'readonly')
  if (!reverse) {
    const [keys, values] = await Promise.all([tx.store.getAllKeys(query, count), tx.store.getAll(query, count)])
    return keys.map((k, i) => [k[1], values[i] as Uint8Array])
  }
  // getAllRecords (Chromium 141+) reads a descending batch in one request; a cursor takes one per entry.
  const store = tx.store as unknown as { getAllRecords?: (o: { query: IDBKeyRange; count: number; direction: 'prev' }) => Promise<{ key: [string, string]; value: Uint8Array }[]> }
  if (typeof store.getAllRecords === 'function') {
    const records = await store.getAllRecords({ query, count, direction: 'prev' })
    return records.map((r) => [r.key[1], r.value])
  }
  const out: [string, Uint8Array][] = []
  let cursor = await tx.store.openCursor(query, 'prev')
  while (cursor && out.length < count) {
    out.push([cursor.key[1], cursor.value])
    cursor = out.length < count ? await cursor.continue() : null
  }
  return out
}
