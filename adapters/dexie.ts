/** @module Dexie storage adapter: checkpoints in IndexedDB through Dexie, in edgegraph's own database or next to an app's tables. */
import { Dexie, type IndexableTypeArrayReadonly, type Table, type Transaction } from 'dexie'
import { isEdgegraphError, type EdgegraphError } from '../src/errors.js'
import { adapterError, checkPuts, conflict, pagedScan, quotaExceeded, sameBytes, type Batch, type Guard, type ScanRange, type ThreadInfo, listed } from '../src/checkpoint/adapter.js'
import { createTabCoordinator, type BrowserAdapter } from './web-tabs.js'

/**
 * edgegraph's tables in Dexie schema syntax: `edgegraph_kv` keyed by `[thread, key]` (outbound keys, so
 * values stay plain bytes) and `edgegraph_threads` keyed by thread with an `updatedAt` index. The stores are
 * laid out as the IndexedDB adapter's, so this adapter can take over a database that one wrote.
 *
 * @example
 * const db = new Dexie('my-app')
 * db.version(3).stores({ ...edgegraphDexieTables, todos: '++id, done' })
 * const checkpointer = createDexieAdapter(db)
 */
export const edgegraphDexieTables = { edgegraph_kv: '', edgegraph_threads: ', updatedAt' } as const

/** The schema version this code declares. Databases at a higher version were written by newer code. */
const SCHEMA_VERSION = 1
const KV = 'edgegraph_kv'
const THREADS = 'edgegraph_threads'
type Key = [thread: string, key: string]

/** Options of {@link createDexieAdapter}. */
export interface DexieAdapterOptions {
  /** Largest value per key before the history layer splits it into chunks. Default 8 MiB. */
  maxValueBytes?: number
}

/** Options of {@link createDexieAdapter} when edgegraph keeps a database of its own. */
export interface DexieOwnDatabaseOptions extends DexieAdapterOptions {
  /** Database name (default `"edgegraph-dexie"`). */
  name?: string
}

/** The Dexie adapter: the storage contract plus cross-tab helpers, as the IndexedDB adapter has them. */
export interface DexieAdapter extends BrowserAdapter {
  /** Stops the adapter (it cannot be used afterwards). Closes its own database; never the app's. */
  close(): Promise<void>
}

/**
 * Creates an adapter storing checkpoints through Dexie in the app's own Dexie database, beside its tables:
 * declare {@link edgegraphDexieTables} in its schema. The app owns that database: the adapter never closes it.
 *
 * @example
 * const graph = builder.compile({ checkpointer: createDexieAdapter(db) })
 */
export function createDexieAdapter(db: Dexie, options?: DexieAdapterOptions): DexieAdapter
/**
 * Creates an adapter storing checkpoints through Dexie in a database of its own (`"edgegraph-dexie"` unless
 * `name` says otherwise), which it opens, upgrades and closes itself.
 *
 * @example
 * const graph = builder.compile({ checkpointer: createDexieAdapter({ name: 'chat' }) })
 */
export function createDexieAdapter(options?: DexieOwnDatabaseOptions): DexieAdapter
export function createDexieAdapter(dbOrOptions: Dexie | DexieOwnDatabaseOptions = {}, appOptions: DexieAdapterOptions = {}): DexieAdapter {
  // Duck-typed rather than `instanceof`: the app's Dexie may come from another copy of the package.
  const given = typeof (dbOrOptions as Dexie).transaction === 'function' ? (dbOrOptions as Dexie) : undefined
  const options: DexieOwnDatabaseOptions = given ? appOptions : (dbOrOptions as DexieOwnDatabaseOptions)
  const db = given ?? ownDatabase(options.name ?? 'edgegraph-dexie')
  const adapter = { name: 'dexie', store: `database "${db.name}"` }
  const maxValueBytes = options.maxValueBytes ?? 8 * 1024 * 1024
  // Scoped to the IndexedDB database, as the IndexedDB adapter scopes it: both guard the same stores.
  const tabs = createTabCoordinator(`indexeddb:${db.name}`, adapter)
  let closed: EdgegraphError | undefined
  let tables: { kv: Table<Uint8Array, Key>; threads: Table<{ updatedAt: number }, string> } | undefined
  let opened: Promise<void> | undefined

  const unavailable = (message: string, cause?: unknown) => adapterError(adapter, 'STORAGE_UNAVAILABLE', message, { cause })
  const cannotOpen = (err: unknown) => {
    const e = err as DexieErrorLike | undefined
    if (e?.name === 'MissingAPIError') return unavailable('IndexedDB is not available in this environment (storage may be disabled).', err)
    const why = e?.inner ?? e
    if (why?.name === 'VersionError') return unavailable(`the database was written by a newer version of this app. Update the app. (${why.message})`, err)
    return unavailable(`the database cannot be opened (${why?.name ?? 'Error'}: ${why?.message ?? String(err)}). Storage may be disabled, e.g. in private mode or by site settings.`, err)
  }

  if (!given) {
    // Dexie's default closes and silently reopens on the next call, which after a delete recreates an empty
    // database under a running thread. Step aside for the other tab, and make further calls say why.
    db.on('versionchange', () => {
      closed = unavailable('another tab upgraded or deleted this database. Reload this page to continue.')
      db.close()
    })
  }

  /** edgegraph's tables, once checked; opens its own database, refusing one a newer version wrote. */
  const ready = async () => {
    if (closed) throw closed
    if (!tables) {
      const schema = (table: string) => db.tables.find((t) => t.name === table)?.schema
      const [kv, threads] = [schema(KV), schema(THREADS)]
      // Outbound keys on both and the updatedAt index: what edgegraphDexieTables declares.
      if (!kv || !threads || kv.primKey.keyPath || threads.primKey.keyPath || !threads.idxByName.updatedAt) {
        throw unavailable('the database has no edgegraph tables (or declares them differently). Add `...edgegraphDexieTables` to your db.version(n).stores({ ... }), in a new, higher version.')
      }
      tables = { kv: db.table(KV), threads: db.table(THREADS) }
    }
    // Where IndexedDB fails with VersionError, Dexie 4 opens the newer database anyway: refuse it here.
    opened ??= given
      ? Promise.resolve()
      : db.open().then(
          () => {
            if (db.backendDB().version <= 10 * SCHEMA_VERSION) return
            closed = unavailable(`the database was written by a newer version of this app (schema above ${SCHEMA_VERSION}). Update the app.`)
            db.close()
            throw closed
          },
          (err) => {
            opened = undefined
            throw closed ?? cannotOpen(err)
          },
        )
    await opened
    return tables
  }

  /** Maps Dexie's errors (which wrap IndexedDB's in `inner`, or list them in `failures`) to typed errors. */
  const fail = (err: unknown, thread: string | undefined, writing: boolean): unknown => {
    if (isEdgegraphError(err)) return err
    const e = err as DexieErrorLike | undefined
    const names = [e?.name, e?.inner?.name, ...(e?.failures ?? []).map((f) => f?.name)]
    const detail = `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`
    if (e?.name === 'MissingAPIError' || e?.name === 'OpenFailedError' || names.includes('VersionError')) return cannotOpen(err)
    if (names.includes('DatabaseClosedError') || names.includes('InvalidStateError') || names.includes('TransactionInactiveError')) {
      return closed ?? unavailable(`the database was closed (by the app, or because another tab upgraded or deleted it). Reopen it or reload this page. (${detail})`, err)
    }
    if (names.includes('QuotaExceededError') || (writing && names.includes('UnknownError'))) return quotaExceeded(adapter, thread, `out of space (${detail})`, err)
    return adapterError(adapter, 'STORAGE_FAILED', `failed: ${detail}`, { thread, cause: err })
  }

  /** The keys of `thread` from `from` (inclusive) to `to` (exclusive; default: all). */
  const keyRange = (kv: Table<Uint8Array, Key>, thread: string, from = '', to?: string) =>
    // Arrays sort after every string, so `[thread, []]` bounds all of a thread's keys. `between` yields
    // nothing for an empty or inverted range.
    kv.where(':id').between([thread, from], [thread, to ?? []], true, false)
  const BATCH = 256

  return {
    name: 'dexie',
    limits: { maxValueBytes },

    async get(thread, keys) {
      try {
        return await (await ready()).kv.bulkGet(keys.map((k): Key => [thread, k]))
      } catch (err) {
        throw fail(err, thread, false)
      }
    },

    scan(thread, r: ScanRange = {}) {
      return pagedScan(r, BATCH, async ({ from, to, reverse, count }) => {
        try {
          const { kv } = await ready()
          return await db.transaction('r', kv, async () => {
            const range = (reverse ? keyRange(kv, thread, from, to).reverse() : keyRange(kv, thread, from, to)).limit(count)
            const [keys, values] = await Promise.all([range.primaryKeys(), range.toArray()])
            return keys.map((k, i): [string, Uint8Array] => [k[1], values[i] as Uint8Array])
          })
        } catch (err) {
          throw fail(err, thread, false)
        }
      })
    },

    async commit(thread, batch: Batch, guard?: Guard) {
      const puts = batch.put ?? []
      checkPuts(batch, maxValueBytes, adapter, thread)
      // A key both deleted and put ends up put, so the deletes need not run before the puts.
      const putKeys = new Set(puts.map(([key]) => key))
      const dels = (batch.del ?? []).filter((key) => !putKeys.has(key)).map((key): Key => [thread, key])
      try {
        const { kv, threads } = await ready()
        // One transaction: the guard is read where the writes happen, and a throw inside aborts all of them.
        await db.transaction('rw', kv, threads, async () => {
          if (guard && !sameBytes(await kv.get([thread, guard.key]), guard.expect)) throw conflict(adapter, thread, guard.key)
          await Promise.all([
            kv.bulkDelete(dels),
            // Copy views so a chunk (a subarray) stores only its own bytes, not its whole buffer. Dexie types
            // outbound keys as scalars; compound keys are valid IndexedDB keys all the same.
            kv.bulkPut(
              puts.map(([, value]) => value.slice()),
              puts.map(([key]): Key => [thread, key]) as unknown as IndexableTypeArrayReadonly,
            ),
            threads.put({ updatedAt: Date.now() }, thread),
          ])
        })
      } catch (err) {
        throw fail(err, thread, true)
      }
      tabs.notify(thread)
    },

    async deleteThread(thread) {
      try {
        const { kv, threads } = await ready()
        await db.transaction('rw', kv, threads, () => Promise.all([keyRange(kv, thread).delete(), threads.delete(thread)]))
      } catch (err) {
        throw fail(err, thread, true)
      }
      tabs.notify(thread)
    },

    async *threads(opts = {}) {
      if (opts.limit === 0) return
      let list: ThreadInfo[]
      try {
        const { threads } = await ready()
        list = await db.transaction('r', threads, async () => {
          let rows = opts.updatedBefore === undefined ? threads.orderBy('updatedAt') : threads.where('updatedAt').below(opts.updatedBefore)
          // With a prefix or a cursor the limit applies after filtering: a browser store holds one user's threads.
          const filtered = opts.prefix !== undefined || opts.after !== undefined
          if (opts.limit !== undefined && !filtered) rows = rows.limit(opts.limit)
          const [keys, values] = await Promise.all([rows.primaryKeys(), rows.toArray()])
          const all = keys.map((thread, i) => ({ thread, updatedAt: (values[i] as { updatedAt: number }).updatedAt }))
          return filtered ? all.filter((info) => listed(info, opts)).slice(0, opts.limit) : all
        })
      } catch (err) {
        throw fail(err, undefined, false)
      }
      yield* list
    },

    lockThread: (thread, fn, lockOptions) => tabs.lockThread(thread, fn, lockOptions),
    subscribe: (listener) => tabs.subscribe(listener),

    async bytes(thread) {
      try {
        const { kv } = await ready()
        let total = 0
        await (thread === undefined ? kv.toCollection() : keyRange(kv, thread)).each((value, cursor) => {
          total += (cursor.primaryKey as Key)[1].length + value.length
        })
        return total
      } catch (err) {
        throw fail(err, thread, false)
      }
    },

    async close() {
      tabs.close()
      closed = unavailable('the adapter was closed.')
      if (!given) db.close()
    },
  }
}

/** The parts of Dexie's errors this file reads: the wrapped IndexedDB error, or a bulk operation's failures. */
interface DexieErrorLike {
  name?: string
  message?: string
  inner?: { name?: string; message?: string } | null
  failures?: ({ name?: string } | undefined)[]
}

/** A Dexie database holding only edgegraph's tables. */
function ownDatabase(name: string): Dexie {
  // Dexie captures the global IndexedDB when its module loads; an environment that installs one later
  // (fake-indexeddb in tests, polyfills) is picked up here instead.
  const deps = Dexie.dependencies.indexedDB ? {} : { indexedDB: globalThis.indexedDB, IDBKeyRange: globalThis.IDBKeyRange }
  const db = new Dexie(name, deps)
  db.version(SCHEMA_VERSION).stores(edgegraphDexieTables).upgrade(fromIndexedDBAdapter)
  return db
}

/**
 * Takes over a database the IndexedDB adapter wrote at its schema 2, where a thread's time is a stamp record
 * (`[thread, 0]`) or rides on its guarded key's record (`{ v, updatedAt }`): times go to `edgegraph_threads`, values
 * back to plain bytes. A database of its schema 1 has nothing to convert.
 */
async function fromIndexedDBAdapter(tx: Transaction): Promise<void> {
  const newest = new Map<string, number>()
  await tx
    .table(KV)
    .toCollection()
    .modify((value: unknown, ref: { primKey: unknown; value: unknown }) => {
      if (value instanceof Uint8Array) return
      const [thread, key] = ref.primKey as [string, string | number]
      const { v, updatedAt } = value as { v?: Uint8Array; updatedAt: number }
      if (!(updatedAt <= (newest.get(thread) ?? Number.NEGATIVE_INFINITY))) newest.set(thread, updatedAt)
      if (typeof key === 'string' && v instanceof Uint8Array) ref.value = v
      else delete (ref as { value?: unknown }).value
    })
  await tx.table(THREADS).bulkPut(
    [...newest.values()].map((updatedAt) => ({ updatedAt })),
    [...newest.keys()],
  )
}
