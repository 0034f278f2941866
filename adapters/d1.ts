/** @module D1 storage adapter: checkpoints in a Cloudflare D1 database, one `db.batch` per commit with the head guard checked by SQLite inside it. */
/*
 * Each commit is ONE `db.batch([...])`, which D1 runs as a single SQLite transaction: if any statement fails,
 * the whole batch is rolled back. A step's checkpoint (no deletes, rows that fit one statement) is a batch of ONE
 * statement into the write view of adapters/sql.ts, whose trigger checks the guard (`RAISE(ABORT,
 * 'edgegraph_guard_failed')`), writes the rows and the thread's `updated_at`: the same as a bare one-statement batch,
 * where two statements cost ~10 % more per step in local D1. The view is made on first use, apart from the tables; a
 * database that refuses it (D1's tooling has mis-split trigger bodies before: workers-sdk #4727, #15690) still works
 * with the forms below, one statement more per step.
 *
 * ## How the head guard is enforced atomically (other commits, or without the write view)
 * A Worker cannot hold a D1 transaction open across round trips, so "read the head, compare, then write" in
 * code would let another writer commit in between. Instead the guard is the FIRST statement of the batch and
 * is evaluated by SQLite itself, inside the same transaction as the writes. Two forms:
 *
 * - The commit writes the guarded key (every checkpoint moves the head): that write is the guard.
 *   ```sql
 *   INSERT INTO edgegraph_kv (thread, key, value) VALUES (?, 'h', CASE WHEN <guard holds> THEN ?new ELSE NULL END),
 *     (?, 'c/…', ?)                                                  -- the other puts, when there are no deletes
 *     ON CONFLICT (thread, key) DO UPDATE SET value = excluded.value
 *   ...deletes, other puts (with deletes), updated_at...
 *   ```
 *   When the head does not match, the value is NULL, `value BLOB NOT NULL` fails, and D1 rolls back the batch.
 *   One row written for guard and head together (rows written are what D1 bills). No other statement of the
 *   adapter ever binds NULL there, so that constraint failing means exactly "the head moved".
 * - Otherwise (packing, pruning: guarded on the head without moving it), a guard table row:
 *   ```sql
 *   INSERT INTO edgegraph_guard (ok) SELECT <guard holds>           -- 1 when it holds, 0 when it does not
 *   ...deletes, puts, updated_at...
 *   DELETE FROM edgegraph_guard                                     -- last: the table never keeps a row
 *   ```
 *   `edgegraph_guard.ok` carries `CONSTRAINT edgegraph_guard_failed CHECK (ok = 1)`, so a stale head fails the
 *   insert with `CHECK constraint failed: edgegraph_guard_failed`.
 *
 * Either way (and with the write view's RAISE) the adapter recognises the failure and throws `CONFLICT`, with nothing
 * of the commit written. (SQLite's `RAISE()` only works inside triggers, and errors such as division by zero are not
 * errors in SQLite, hence constraints outside the view.) The guard condition compares
 * the stored BLOB byte for byte (`value = ?`, or `(SELECT value ...) IS ?` with NULL for "absent"), or checks that the
 * key is absent (`NOT EXISTS`). D1 executes one batch at a time per database, and the guard read, the writes and the
 * cleanup are one transaction, so no other writer can interleave between them.
 * Verified in test/workers/limits.spec.ts (and by the conformance suite): a guard failure leaves no row written
 * and none in the guard table, a failure after the guard rolls the guard back too, eight concurrent writers on
 * one head give exactly one winner per round (both forms), and the same race with the guard checked in code
 * (read, then write) lets several win.
 */
import { adapterError, checkPuts, conflict, pagedScan, type Batch, type Guard, type ScanRange, type StorageAdapter } from '../src/checkpoint/adapter.js'
import {
  commitStatements,
  d1GuardedPuts,
  d1GuardStatement,
  deleteThreadStatements,
  fitsOneWrite,
  fromHex,
  getStatements,
  hexEntryOf,
  isD1GuardFailure,
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
  type SqlStatement,
} from './sql.js'

/** The part of `D1PreparedStatement` this adapter uses. */
export interface D1PreparedStatementLike {
  bind(...values: unknown[]): D1PreparedStatementLike
  all<T = Record<string, unknown>>(): Promise<{ results: T[] }>
}

/** The part of `D1Database` (from `@cloudflare/workers-types`) this adapter uses. */
export interface D1DatabaseLike {
  prepare(query: string): D1PreparedStatementLike
  batch(statements: D1PreparedStatementLike[]): Promise<unknown[]>
}

/**
 * Options of {@link createD1Adapter}. Give each graph (or app) its own `table` prefix when several share one
 * database and must not see each other's threads.
 */
export interface D1AdapterOptions {
  /** Table name prefix (default `"edgegraph"`): tables `<prefix>_kv`, `<prefix>_threads`, `<prefix>_guard`. */
  table?: string
  /** Largest value per row before the history layer chunks it. Default 1.9 MiB; at most that (2 MB row limit). */
  maxValueBytes?: number
}

/**
 * Creates an adapter on a D1 database binding. Tables are created on first use (`CREATE TABLE IF NOT EXISTS`), then
 * the write view and its trigger (`<prefix>_write`, not in migrations/0001_edgegraph.sql: a database without them
 * works, one statement more per step).
 *
 * @example
 * const graph = builder.compile({ checkpointer: createD1Adapter(env.DB) })
 */
export function createD1Adapter(db: D1DatabaseLike, options: D1AdapterOptions = {}): StorageAdapter {
  const name = 'd1'
  const t = sqlTables(options.table, name)
  const maxValueBytes = sqlMaxValueBytes(options.maxValueBytes, name)
  if (typeof db?.prepare !== 'function' || typeof db.batch !== 'function') throw adapterError(name, 'INVALID_ARGUMENT', 'pass a D1Database binding (env.DB).')
  const prepare = (s: SqlStatement) => db.prepare(s.sql).bind(...s.params)
  const all = async (s: SqlStatement) => (await prepare(s).all<Record<string, unknown>>()).results
  let ready: Promise<void> | undefined
  /** Whether the write view exists, so a step's commit can be one statement (see the notes at the top of this file). */
  let writeView = false
  const ensure = (): Promise<void> => {
    ready ??= db.batch(schemaStatements(t, true).map((sql) => db.prepare(sql))).then(
      async () => {
        writeView = await db.batch(writeViewStatements(t).map((sql) => db.prepare(sql))).then(
          () => true,
          () => false,
        )
      },
      (err) => {
        ready = undefined
        throw err
      },
    )
    return ready
  }
  const attempt = async <T>(thread: string | undefined, action: string, fn: () => Promise<T>): Promise<T> => {
    try {
      await ensure()
      return await fn()
    } catch (err) {
      throw sqlError(err, name, thread, action)
    }
  }
  // Pages stay small: each row may hold up to ~2 MB.
  const SCAN_PAGE = 32

  return {
    name,
    limits: { maxValueBytes },

    async get(thread, keys) {
      return attempt(thread, 'get', async () => {
        const rows: Record<string, unknown>[] = []
        for (const s of getStatements(t, thread, keys, 'hex')) rows.push(...(await all(s)))
        return valuesByKey(keys, rows, fromHex)
      })
    },

    scan(thread, range: ScanRange = {}) {
      return pagedScan(range, SCAN_PAGE, (page) => attempt(thread, 'scan', async () => (await all(scanStatement(t, thread, page, 'hex'))).map(hexEntryOf)))
    },

    async commit(thread, batch: Batch, guard?: Guard) {
      checkPuts(batch, maxValueBytes, name, thread)
      // A commit that writes the guarded key (and does not delete it) guards with that write; see the notes at the top of this file.
      const statementsOf = (): SqlStatement[] => {
        if (writeView && fitsOneWrite(batch)) return [writeStatement(t, thread, batch.put ?? [], guard, Date.now())]
        const guardedPut = guard && !(batch.del ?? []).includes(guard.key) ? batch.put?.findLast(([k]) => k === guard.key) : undefined
        if (guard && guardedPut) {
          const others = (batch.put ?? []).filter(([k]) => k !== guard.key)
          // Without deletes, the other puts ride in the guarded statement when they fit. With deletes they follow them.
          const together = !batch.del?.length && fitsOneWrite({ put: [guardedPut, ...others] })
          const rest: Batch = together ? {} : { ...batch, put: others }
          return [d1GuardedPuts(t, thread, guard, guardedPut[1], together ? others : []), ...commitStatements(t, thread, rest, Date.now())]
        }
        const statements = commitStatements(t, thread, batch, Date.now())
        if (guard) {
          statements.unshift(d1GuardStatement(t, thread, guard))
          statements.push({ sql: `DELETE FROM ${t.guard}`, params: [] })
        }
        return statements
      }
      await attempt(thread, 'commit', async () => {
        try {
          // Built once the schema is known (the write view may be missing).
          await db.batch(statementsOf().map(prepare))
        } catch (err) {
          if (guard && isD1GuardFailure(t, err)) throw conflict(name, thread, guard.key)
          throw err
        }
      })
    },

    async deleteThread(thread) {
      await attempt(thread, 'deleteThread', () => db.batch(deleteThreadStatements(t, thread).map(prepare)))
    },

    threads(opts = {}) {
      return pagedThreads(
        (after, count) =>
          attempt(undefined, 'threads', async () => (await all(threadsStatement(t, after, opts.updatedBefore, count, opts.prefix))).map(threadOf)),
        opts,
        256,
      )
    },
  }
}
