/** @module SQLite adapter for Node: checkpoints in the app's own SQLite file (better-sqlite3, or node:sqlite), one `BEGIN IMMEDIATE` transaction per commit. */
// The app opens the database and hands the object over: the adapter never imports a driver, so apps without SQLite
// never load one. Both drivers are synchronous, so a commit is one uninterrupted block of JS: BEGIN IMMEDIATE takes
// the file's write lock (waiting up to the connection's busy timeout for another process to let go of it), the guard is
// read and compared under that lock, the writes follow, COMMIT. Any failure rolls it all back. IMMEDIATE rather than
// a deferred BEGIN: a deferred transaction that read the head and then tries to write fails with SQLITE_BUSY at once
// if another process committed in between, however long the busy timeout.
//
// Tables and statements are those of the D1 adapter (adapters/sql.ts): `<prefix>_kv`, `<prefix>_threads` with its
// time index, and D1's guard table, unused here but kept so both adapters read the same schema.
import { adapterError, checkPuts, conflict, pagedScan, quotaExceeded, sameBytes, type AdapterRef, type Batch, type Guard, type ScanRange, type StorageAdapter } from '../src/checkpoint/adapter.js'
import { isEdgegraphError, type EdgegraphError } from '../src/errors.js'
import {
  SQL_MAX_VALUE_BYTES,
  bytesOf,
  commitStatements,
  deleteThreadStatements,
  entryOf,
  getStatements,
  guardReadStatement,
  pagedThreads,
  scanStatement,
  schemaStatements,
  sqlError,
  sqlTables,
  threadOf,
  threadsStatement,
  valuesByKey,
  type SqlStatement,
} from './sql.js'

/** The part of a prepared statement this adapter uses (better-sqlite3's `Statement`, node:sqlite's `StatementSync`). */
export interface SqliteStatementLike {
  run(...params: unknown[]): unknown
  all(...params: unknown[]): unknown[]
}

/**
 * The part of a SQLite connection this adapter uses: a better-sqlite3 `Database` (11 or later) or a node:sqlite
 * `DatabaseSync` (Node 22.5 or later). Described by shape, so neither driver's types (nor Node's) are needed.
 */
export interface SqliteDatabaseLike {
  prepare(sql: string): SqliteStatementLike
  exec(sql: string): unknown
  /** better-sqlite3: whether the connection is open (node:sqlite has an `open()` method instead). */
  readonly open?: boolean | (() => void)
  /** node:sqlite (Node 22.15 or later): whether the connection is open. */
  readonly isOpen?: boolean
  /** better-sqlite3: whether a transaction is open on the connection. */
  readonly inTransaction?: boolean
  /** node:sqlite (recent versions): whether a transaction is open on the connection. */
  readonly isTransaction?: boolean
  /** better-sqlite3: the file name the connection was opened with, shown in error messages. */
  readonly name?: string
}

/** Options of {@link createSqliteAdapter}. */
export interface SqliteAdapterOptions {
  /**
   * Table name prefix (default `"edgegraph"`): tables `<prefix>_kv`, `<prefix>_threads`, `<prefix>_guard`. Give
   * each graph (or app) its own when several share one file and must not see each other's threads.
   */
  table?: string
  /**
   * Largest value per row before the history layer splits a record into chunks (written in the same transaction).
   * Default 1.9 MiB, as on Durable Objects and D1; at most 512 MiB (SQLite refuses rows above 1 GB, and a value is
   * held in memory whole).
   */
  maxValueBytes?: number
}

/** Largest `maxValueBytes` accepted: SQLite's default row limit is 1,000,000,000 bytes; half a GiB leaves room. */
const MAX_OPTION_BYTES = 512 * 1024 * 1024
/** The busy timeout set on a connection that has none (node:sqlite's default is 0): better-sqlite3's default. */
const BUSY_TIMEOUT_MS = 5000

/** SQLite's primary result code of a driver error: better-sqlite3's `code` ('SQLITE_BUSY_SNAPSHOT'), node:sqlite's `errcode`. */
function resultCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errcode?: unknown } | undefined
  if (typeof e?.code === 'string' && e.code.startsWith('SQLITE_')) return e.code.slice(7).split('_')[0]
  const names: Record<number, string> = { 5: 'BUSY', 6: 'LOCKED', 8: 'READONLY', 11: 'CORRUPT', 13: 'FULL', 14: 'CANTOPEN', 18: 'TOOBIG', 26: 'NOTADB' }
  return typeof e?.errcode === 'number' ? names[e.errcode & 0xff] : undefined
}

/**
 * Creates an adapter on an open SQLite connection: a better-sqlite3 `Database`, or a node:sqlite `DatabaseSync` where
 * the runtime has one. Creates its tables if missing and sets, on this connection, `journal_mode = WAL` (kept by the
 * file), `synchronous = FULL` (a committed checkpoint survives a power cut; see the README for the trade-off) and, when
 * the connection has none, a busy timeout of 5 s. Several processes may use one file, each with its own connection:
 * the head guard is checked under SQLite's write lock, so of two writers of one thread one gets `CONFLICT`.
 *
 * @example
 * import Database from 'better-sqlite3'
 * const graph = builder.compile({ checkpointer: createSqliteAdapter(new Database('agents.db')) })
 */
export function createSqliteAdapter(db: SqliteDatabaseLike, options: SqliteAdapterOptions = {}): StorageAdapter {
  const name = 'sqlite'
  const t = sqlTables(options.table, name)
  const maxValueBytes = options.maxValueBytes ?? SQL_MAX_VALUE_BYTES
  if (!Number.isInteger(maxValueBytes) || maxValueBytes <= 0 || maxValueBytes > MAX_OPTION_BYTES) {
    throw adapterError(name, 'INVALID_ARGUMENT', `maxValueBytes must be an integer from 1 to ${MAX_OPTION_BYTES}, got ${maxValueBytes}.`)
  }
  if (typeof db?.prepare !== 'function' || typeof db.exec !== 'function') {
    throw adapterError(name, 'INVALID_ARGUMENT', "pass an open SQLite connection: a better-sqlite3 Database (new Database('app.db')) or a node:sqlite DatabaseSync.")
  }
  const ref: AdapterRef = typeof db.name === 'string' && db.name !== '' ? { name, store: db.name === ':memory:' ? 'in memory' : `file "${db.name}"` } : name

  const closed = (thread: string | undefined, action: string, cause?: unknown) =>
    adapterError(ref, 'STORAGE_UNAVAILABLE', `${action} failed: the database connection is closed. Open the file again and create the adapter on the new connection.`, { thread, cause })
  const isClosed = () => db.open === false || db.isOpen === false
  /** The driver's failure as a typed error that says what to do. */
  const failure = (err: unknown, thread: string | undefined, action: string): EdgegraphError => {
    if (isEdgegraphError(err)) return err
    const message = err instanceof Error ? err.message : String(err)
    const unavailable = (what: string) => adapterError(ref, 'STORAGE_UNAVAILABLE', `${action} failed: ${what}`, { thread, cause: err })
    switch (resultCode(err)) {
      case 'BUSY':
      case 'LOCKED':
        return unavailable(
          'the database is locked: another connection or process held its write lock for longer than this connection waits (PRAGMA busy_timeout). Nothing was written. Retry; if it persists, find the process that keeps a write transaction open.',
        )
      case 'READONLY':
        return unavailable('the database is read-only (opened with readonly, or its file or folder is not writable). Nothing was written; open it writable to store checkpoints.')
      case 'NOTADB':
      case 'CORRUPT':
        return unavailable(`${message}: the file is not a SQLite database or is damaged. Restore it from a backup or pass another file.`)
      case 'CANTOPEN':
        return unavailable(`${message}: check the path and its permissions.`)
      case 'FULL':
        return quotaExceeded(ref, thread, `${action} failed: ${message} (the disk is full, or the file reached its PRAGMA max_page_count)`, err)
    }
    // better-sqlite3: "The database connection is not open"; node:sqlite: "database is not open", "statement has been finalized".
    if (/not open|has been finalized/i.test(message)) return closed(thread, action, err)
    if (/within a transaction/i.test(message)) {
      return adapterError(ref, 'STORAGE_FAILED', `${action} failed: the connection is inside a transaction the app opened and has not committed. Nothing was written; commit it first, or give the adapter a connection of its own.`, { thread, cause: err })
    }
    return sqlError(err, ref, thread, action)
  }

  const statements = new Map<string, SqliteStatementLike>()
  const prepare = (sql: string) => {
    let s = statements.get(sql)
    if (s === undefined) statements.set(sql, (s = db.prepare(sql)))
    return s
  }
  // Blobs bind as Uint8Array (both drivers take it; sql.ts hands them over as exact-length ArrayBuffers). An empty one
  // as a view into a non-empty buffer: node:sqlite binds a view whose buffer has no memory behind it as NULL, not as
  // an empty blob (seen on Node 22.23), and an empty value is not an absent one.
  const params = (s: SqlStatement) => s.params.map((p) => (p instanceof ArrayBuffer ? (p.byteLength === 0 ? new Uint8Array(1).subarray(0, 0) : new Uint8Array(p)) : p))
  const all = (s: SqlStatement) => prepare(s.sql).all(...params(s)) as Record<string, unknown>[]
  const run = (s: SqlStatement) => void prepare(s.sql).run(...params(s))

  const attempt = <T>(thread: string | undefined, action: string, fn: () => T): T => {
    if (isClosed()) throw closed(thread, action)
    try {
      return fn()
    } catch (err) {
      throw failure(err, thread, action)
    }
  }
  /**
   * Runs `fn` in one write transaction holding the file's write lock; anything thrown rolls it all back. BEGIN and
   * COMMIT are prepared once, as the commit's other statements are, rather than parsed again by `exec` on every commit.
   */
  const transaction = (fn: () => void) => {
    prepare('BEGIN IMMEDIATE').run()
    try {
      fn()
      prepare('COMMIT').run()
    } catch (err) {
      // SQLite itself rolls back on some errors (SQLITE_FULL does); ROLLBACK then has nothing to undo.
      if (db.inTransaction ?? db.isTransaction ?? true) {
        try {
          db.exec('ROLLBACK')
        } catch (rollbackErr) {
          if (!/no transaction is active/i.test(String((rollbackErr as Error)?.message))) throw new Error(`${(err as Error)?.message ?? err}; then ROLLBACK failed too: ${(rollbackErr as Error)?.message}`, { cause: err })
        }
      }
      throw err
    }
  }

  attempt(undefined, 'opening the database', () => {
    // journal_mode answers "memory" for an in-memory database, which has no file to share: fine.
    all({ sql: 'PRAGMA journal_mode = WAL', params: [] })
    db.exec('PRAGMA synchronous = FULL')
    const [row] = all({ sql: 'PRAGMA busy_timeout', params: [] })
    if (!(Number(row?.timeout) > 0)) db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
    transaction(() => {
      for (const sql of schemaStatements(t, true)) db.exec(sql)
    })
  })
  const SCAN_PAGE = 64

  return {
    name,
    limits: { maxValueBytes },

    async get(thread, keys) {
      return attempt(thread, 'get', () => {
        const list = getStatements(t, thread, keys)
        if (list.length <= 1) return valuesByKey(keys, list.flatMap(all))
        // Over 99 keys: one read transaction, so every key is read from the same commit. A savepoint also nests
        // inside a transaction the app has open on the connection.
        db.exec('SAVEPOINT edgegraph_get')
        try {
          return valuesByKey(keys, list.flatMap(all))
        } finally {
          db.exec('RELEASE edgegraph_get')
        }
      })
    },

    scan(thread, range: ScanRange = {}) {
      return pagedScan(range, SCAN_PAGE, async (page) => attempt(thread, 'scan', () => all(scanStatement(t, thread, page)).map(entryOf)))
    },

    async commit(thread, batch: Batch, guard?: Guard) {
      checkPuts(batch, maxValueBytes, ref, thread)
      attempt(thread, 'commit', () =>
        transaction(() => {
          if (guard) {
            const [row] = all(guardReadStatement(t, thread, guard.key))
            if (!sameBytes(row === undefined ? undefined : bytesOf(row.value), guard.expect)) throw conflict(ref, thread, guard.key)
          }
          // Stamped once the lock is held, so threads() orders commits of several processes as they happened.
          for (const s of commitStatements(t, thread, batch, Date.now())) run(s)
        }),
      )
    },

    async deleteThread(thread) {
      attempt(thread, 'deleteThread', () =>
        transaction(() => {
          for (const s of deleteThreadStatements(t, thread)) run(s)
        }),
      )
    },

    threads(opts = {}) {
      return pagedThreads(async (after, count) => attempt(undefined, 'threads', () => all(threadsStatement(t, after, opts.updatedBefore, count, opts.prefix)).map(threadOf)), opts, 256)
    },
  }
}
