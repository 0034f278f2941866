/** @module Durable Object storage adapter: checkpoints in a Durable Object's SQLite storage, a commit in one SQL statement where it can be. */
// A commit without deletes that fits one statement (every step's checkpoint: its record and the head) is ONE
// `sql.exec` into the write view of adapters/sql.ts, whose trigger checks the guard and writes the rows and the
// thread's update time; SQLite applies a statement whole or not at all, so it needs no `transactionSync`. Every
// `sql.exec` is a call into the runtime (and, under `wrangler dev`, a traced span), so one call instead of three is
// most of a step's storage cost. Its writes join the object's implicit transaction and are confirmed with the rest of
// the request's writes before any output leaves the object (the output gate), as with every Durable Object write.
// Other commits (deletes, many or large rows) run as before in one `transactionSync`: the guard is read and checked
// inside it, then the deletes, puts and the update time are written; a failed guard or any error rolls it all back.
import { adapterError, checkPuts, conflict, pagedScan, sameBytes, type Batch, type Guard, type ScanRange, type StorageAdapter } from '../src/checkpoint/adapter.js'
import {
  bytesOf,
  commitStatements,
  deleteThreadStatements,
  entryOf,
  fitsOneWrite,
  getStatements,
  guardReadStatement,
  isWriteGuardFailure,
  pagedThreads,
  scanStatement,
  schemaStatements,
  sqlError,
  sqlMaxValueBytes,
  sqlTables,
  threadOf,
  threadsStatement,
  valuesByKey,
  writeStatement,
  writeViewStatements,
  type SqlParam,
  type SqlStatement,
} from './sql.js'

/** The part of `DurableObjectStorage` (from `@cloudflare/workers-types`) this adapter uses. */
export interface DurableObjectSqlStorageLike {
  sql: { exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] } }
  transactionSync<T>(closure: () => T): T
}

/**
 * Options of {@link createDurableObjectAdapter}. Two adapters on one Durable Object with different `table`
 * prefixes keep two separate histories; the defaults suit one.
 */
export interface DurableObjectAdapterOptions {
  /** Table name prefix (default `"edgegraph"`): tables `<prefix>_kv` and `<prefix>_threads`, view `<prefix>_write`. */
  table?: string
  /** Largest value per row before the history layer chunks it. Default 1.9 MiB; at most that (2 MB row limit). */
  maxValueBytes?: number
}

/**
 * Creates an adapter on a Durable Object's SQLite storage (`this.ctx.storage`). Tables are created on first use.
 * The Durable Object class must use SQLite storage: `migrations: [{ tag: 'v1', new_sqlite_classes: ['Agent'] }]`.
 *
 * @example
 * export class Agent extends DurableObject {
 *   graph = builder.compile({ checkpointer: createDurableObjectAdapter(this.ctx.storage) })
 * }
 */
export function createDurableObjectAdapter(storage: DurableObjectSqlStorageLike, options: DurableObjectAdapterOptions = {}): StorageAdapter {
  const name = 'durable-object'
  const t = sqlTables(options.table, name)
  const maxValueBytes = sqlMaxValueBytes(options.maxValueBytes, name)
  if (typeof storage?.sql?.exec !== 'function' || typeof storage.transactionSync !== 'function') {
    throw adapterError(name, 'INVALID_ARGUMENT', 'pass a SQLite-backed DurableObjectStorage (this.ctx.storage). Its class must be listed in new_sqlite_classes of a migration.')
  }
  let ready = false
  const run = (s: SqlStatement) => storage.sql.exec(s.sql, ...(s.params as SqlParam[])).toArray()
  const ensure = () => {
    if (ready) return
    storage.transactionSync(() => {
      for (const sql of [...schemaStatements(t, false), ...writeViewStatements(t)]) storage.sql.exec(sql)
    })
    ready = true
  }
  /** Runs `fn` synchronously (Durable Object SQL is synchronous) and maps failures. */
  const attempt = <T>(thread: string | undefined, action: string, fn: () => T): T => {
    try {
      ensure()
      return fn()
    } catch (err) {
      throw sqlError(err, name, thread, action)
    }
  }
  const SCAN_PAGE = 64

  return {
    name,
    limits: { maxValueBytes },

    async get(thread, keys) {
      return attempt(thread, 'get', () => valuesByKey(keys, getStatements(t, thread, keys).flatMap(run)))
    },

    scan(thread, range: ScanRange = {}) {
      return pagedScan(range, SCAN_PAGE, async (page) => attempt(thread, 'scan', () => run(scanStatement(t, thread, page)).map(entryOf)))
    },

    async commit(thread, batch: Batch, guard?: Guard) {
      checkPuts(batch, maxValueBytes, name, thread)
      if (fitsOneWrite(batch)) {
        const write = writeStatement(t, thread, batch.put ?? [], guard, Date.now())
        attempt(thread, 'commit', () => {
          try {
            run(write)
          } catch (err) {
            if (guard && isWriteGuardFailure(err)) throw conflict(name, thread, guard.key)
            throw err
          }
        })
        return
      }
      const statements = commitStatements(t, thread, batch, Date.now())
      attempt(thread, 'commit', () =>
        // Throwing inside transactionSync rolls back everything it wrote; nothing can run in between because
        // the closure is synchronous and the Durable Object is single-threaded.
        storage.transactionSync(() => {
          if (guard) {
            const [row] = run(guardReadStatement(t, thread, guard.key))
            if (!sameBytes(row === undefined ? undefined : bytesOf(row.value), guard.expect)) throw conflict(name, thread, guard.key)
          }
          for (const s of statements) run(s)
        }),
      )
    },

    async deleteThread(thread) {
      attempt(thread, 'deleteThread', () =>
        storage.transactionSync(() => {
          for (const s of deleteThreadStatements(t, thread)) run(s)
        }),
      )
    },

    threads(opts = {}) {
      return pagedThreads(
        async (after, count) =>
          attempt(undefined, 'threads', () => run(threadsStatement(t, after, opts.updatedBefore, count, opts.prefix)).map(threadOf)),
        opts,
        256,
      )
    },
  }
}
