/** @module The SQL shared by the SQLite-based adapters (Durable Object storage, D1, and Node's SQLite): schema, statements, limits, errors. */
// No backend here: each adapter runs these statements its own way (`storage.sql.exec`, one statement into the write
// view or several inside `transactionSync`; `db.batch`; or prepared statements inside BEGIN IMMEDIATE). Platform
// limits respected (Durable Object SQLite and D1 alike): at most 100 bound parameters per statement (multi-row
// statements are split), at most 100 KB of statement text (values are always bound parameters, so the text stays a
// few hundred bytes), at most 2 MB per row (`SQL_MAX_VALUE_BYTES` leaves room below it for the key and row overhead;
// local workerd does not enforce the 2 MB limit, so the adapters check it). These are Cloudflare's limits; plain
// SQLite allows more, and the Node adapter simply uses the same smaller statements.
// Internal: not a published entry point (see package.json `exports`).
import { isEdgegraphError, type EdgegraphError } from '../src/errors.js'
import { adapterError, quotaExceeded, type AdapterRef, type Batch, type Guard, type ScanPage } from '../src/checkpoint/adapter.js'

/**
 * Largest value per row: 1.9 MiB = 1,992,294 bytes, below the platform's 2 MB row limit (whether read as
 * 2,000,000 bytes or 2 MiB) with room for the thread name, the key and SQLite's row overhead. Larger records
 * are chunked by the history layer.
 */
export const SQL_MAX_VALUE_BYTES = Math.floor(1.9 * 1024 * 1024)
/** Bound parameters allowed per statement on Durable Objects and D1. */
export const SQL_MAX_PARAMS = 100
/** Total value bytes one multi-row INSERT carries at most (one big value always goes alone). */
const MAX_STATEMENT_VALUE_BYTES = SQL_MAX_VALUE_BYTES

/** A value SQLite can bind: blobs are passed as exact-length ArrayBuffers (never a view into a larger buffer). */
export type SqlParam = string | number | null | ArrayBuffer

/** One statement with its parameters. */
export interface SqlStatement {
  sql: string
  params: SqlParam[]
}

/** Table names of one adapter instance: `<prefix>_kv`, `<prefix>_threads`, `<prefix>_guard`, and the view `<prefix>_write`. */
export interface SqlTables {
  kv: string
  threads: string
  guard: string
  /** The write view of the Durable Object and D1 adapters (see {@link writeViewStatements}). */
  write: string
}

/** Table names for `prefix` (default `edgegraph`); the prefix must be a plain SQL identifier. */
export function sqlTables(prefix = 'edgegraph', adapter = 'sql'): SqlTables {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,62}$/.test(prefix) || /^_cf_/i.test(prefix) || /^sqlite_/i.test(prefix)) {
    throw adapterError(adapter, 'INVALID_ARGUMENT', `table prefix ${JSON.stringify(prefix)} must be letters, digits and "_", starting with a letter (and not "sqlite_" or "_cf_").`)
  }
  return { kv: `${prefix}_kv`, threads: `${prefix}_threads`, guard: `${prefix}_guard`, write: `${prefix}_write` }
}

/**
 * The schema, as idempotent statements. Keys and thread names are TEXT with the default BINARY collation, so
 * `ORDER BY key` is byte order, which equals JS string order for the printable-ASCII keys the contract allows.
 * Tables are WITHOUT ROWID: the primary key is the table, so a write touches one b-tree row instead of a table row
 * plus an index row (rows written are what DO SQLite and D1 bill; a counter step went from 5 to 3 on DO).
 *
 * `shared` (D1: many threads in one database) adds the guard table (see adapters/d1.ts; it never holds a row
 * outside a running batch) and the index that pages `threads()` by time. A Durable Object holds one thread or a
 * few, so it lists them without an index rather than update one on every step.
 */
export function schemaStatements(t: SqlTables, shared: boolean): string[] {
  const statements = [
    `CREATE TABLE IF NOT EXISTS ${t.kv} (thread TEXT NOT NULL COLLATE BINARY, key TEXT NOT NULL COLLATE BINARY, value BLOB NOT NULL, PRIMARY KEY (thread, key)) WITHOUT ROWID`,
    `CREATE TABLE IF NOT EXISTS ${t.threads} (thread TEXT NOT NULL COLLATE BINARY PRIMARY KEY, updated_at INTEGER NOT NULL) WITHOUT ROWID`,
  ]
  if (shared) {
    statements.push(`CREATE INDEX IF NOT EXISTS ${t.threads}_by_time ON ${t.threads} (updated_at, thread)`)
    statements.push(`CREATE TABLE IF NOT EXISTS ${t.guard} (ok INTEGER NOT NULL, CONSTRAINT edgegraph_guard_failed CHECK (ok = 1))`)
  }
  return statements
}

/**
 * A commit as ONE statement, for the Durable Object and D1 adapters: an insertable view whose INSTEAD OF trigger checks
 * the guard, upserts the row and (once per statement) the thread's `updated_at`. On Durable Objects every `sql.exec`
 * is a call into the runtime, and a commit's usual three statements (guard read, rows, update time) cost three; in a
 * D1 batch every statement costs its share too. A statement is atomic on its own in SQLite (a failing row or
 * `RAISE(ABORT)` backs out everything the statement and its triggers wrote), so on a Durable Object it needs no
 * `transactionSync` around it. Additive: tables and rows stay as they were, so data written before reads and writes as
 * it did; the view holds nothing.
 *
 * Each inserted row is `(thread, key, value, updated_at, guard_key, guard_value)`; the first row of a commit carries
 * the guard (`guard_key` NULL for none; `guard_value` NULL for "the key must be absent") and the update time, the
 * others NULL there. A failed guard raises `edgegraph_guard_failed`. The trigger's body is fixed by its name: a change
 * to it needs a new name (and the old one dropped), since `IF NOT EXISTS` keeps an existing trigger as it is.
 */
export function writeViewStatements(t: SqlTables): string[] {
  return [
    `CREATE VIEW IF NOT EXISTS ${t.write} AS SELECT thread, key, value, NULL AS updated_at, NULL AS guard_key, NULL AS guard_value FROM ${t.kv} WHERE 0`,
    `CREATE TRIGGER IF NOT EXISTS ${t.write}_row INSTEAD OF INSERT ON ${t.write} BEGIN ` +
      `SELECT RAISE(ABORT, 'edgegraph_guard_failed') WHERE NEW.guard_key IS NOT NULL AND (SELECT value FROM ${t.kv} WHERE thread = NEW.thread AND key = NEW.guard_key) IS NOT NEW.guard_value; ` +
      `INSERT INTO ${t.kv} (thread, key, value) VALUES (NEW.thread, NEW.key, NEW.value) ON CONFLICT (thread, key) DO UPDATE SET value = excluded.value; ` +
      `INSERT INTO ${t.threads} (thread, updated_at) SELECT NEW.thread, NEW.updated_at WHERE NEW.updated_at IS NOT NULL ON CONFLICT (thread) DO UPDATE SET updated_at = excluded.updated_at; ` +
      `END`,
  ]
}

/** Rows one {@link writeStatement} carries at most: 4 shared parameters, then 2 per row, within 100. */
export const WRITE_MAX_ROWS = Math.floor((SQL_MAX_PARAMS - 4) / 2)

/** Whether `puts` fit in one {@link writeStatement}: a commit without deletes, its rows and bytes within one statement. */
export function fitsOneWrite(batch: Batch): boolean {
  const put = batch.put ?? []
  if ((batch.del?.length ?? 0) > 0 || put.length === 0 || put.length > WRITE_MAX_ROWS) return false
  let bytes = 0
  for (const [, value] of put) bytes += value.length
  return put.length === 1 || bytes <= MAX_STATEMENT_VALUE_BYTES
}

const writeSql = new Map<string, string>()

/**
 * A commit without deletes as one INSERT into the write view ({@link writeViewStatements}): the guard and `now` on its
 * first row. The SQL text depends only on the view and the row count, so it is built once per shape (the runtime
 * caches prepared statements by their text).
 */
export function writeStatement(t: SqlTables, thread: string, put: readonly [string, Uint8Array][], guard: Guard | undefined, now: number): SqlStatement {
  const shape = `${t.write}:${put.length}`
  let sql = writeSql.get(shape)
  if (sql === undefined) {
    const rows = ['(?1, ?5, ?6, ?2, ?3, ?4)']
    for (let i = 1; i < put.length; i++) rows.push(`(?1, ?${5 + 2 * i}, ?${6 + 2 * i}, NULL, NULL, NULL)`)
    sql = `INSERT INTO ${t.write} (thread, key, value, updated_at, guard_key, guard_value) VALUES ${rows.join(', ')}`
    writeSql.set(shape, sql)
  }
  const params: SqlParam[] = [thread, now, guard ? guard.key : null, guard?.expect ? blob(guard.expect) : null]
  for (const [key, value] of put) params.push(key, blob(value))
  return { sql, params }
}

/** True when a {@link writeStatement} failed on its guard (the head moved). */
export function isWriteGuardFailure(err: unknown): boolean {
  return /edgegraph_guard_failed/.test(err instanceof Error ? err.message : String(err))
}

/** The adapter's `maxValueBytes` option, checked: at most {@link SQL_MAX_VALUE_BYTES} (the platform's 2 MB row limit). */
export function sqlMaxValueBytes(option: number | undefined, adapter: string): number {
  const maxValueBytes = option ?? SQL_MAX_VALUE_BYTES
  if (!Number.isInteger(maxValueBytes) || maxValueBytes <= 0 || maxValueBytes > SQL_MAX_VALUE_BYTES) {
    throw adapterError(adapter, 'INVALID_ARGUMENT', `maxValueBytes must be an integer from 1 to ${SQL_MAX_VALUE_BYTES} (the platform's 2 MB row limit), got ${maxValueBytes}.`)
  }
  return maxValueBytes
}

/** The values of `keys` from the rows of {@link getStatements}, in key order; undefined where absent. */
export function valuesByKey(keys: readonly string[], rows: Iterable<Record<string, unknown>>, decode: (value: unknown) => Uint8Array = bytesOf): (Uint8Array | undefined)[] {
  const found = new Map<string, Uint8Array>()
  for (const row of rows) found.set(row.key as string, decode(row.value))
  // A fresh copy per position: a key asked twice must not return one shared array.
  return keys.map((k) => found.get(k)?.slice())
}

/** A row of {@link scanStatement} as a scan entry. */
export function entryOf(row: Record<string, unknown>): [string, Uint8Array] {
  return [row.key as string, bytesOf(row.value)]
}

/** A row of {@link scanStatement} read in the `hex` form as a scan entry. */
export function hexEntryOf(row: Record<string, unknown>): [string, Uint8Array] {
  return [row.key as string, fromHex(row.value)]
}

/** A row of {@link threadsStatement} as a `threads()` entry. */
export function threadOf(row: Record<string, unknown>): ThreadsCursor {
  return { thread: row.thread as string, updatedAt: Number(row.updated_at) }
}

/** An exact-length copy of `bytes` as an ArrayBuffer, so a subarray binds only its own bytes. */
export function blob(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer
}

/** Bytes from what a driver returns for a BLOB column (ArrayBuffer, typed array, or an array of numbers). */
export function bytesOf(value: unknown): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0))
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength))
  if (Array.isArray(value)) return Uint8Array.from(value as number[])
  if (value === null || value === undefined) return new Uint8Array(0)
  if (typeof value === 'string') return new TextEncoder().encode(value)
  throw new TypeError(`unexpected BLOB value of type ${typeof value}`)
}

/**
 * How reads return values: as they are (a BLOB), or `hex` (D1: its binding carries a BLOB as a JSON array of numbers,
 * three to four characters a byte, parsed into a JS array; hex text is two characters a byte and one string, decoded
 * with {@link fromHex}).
 */
export type ValueForm = 'blob' | 'hex'

const valueColumn = (form: ValueForm) => (form === 'hex' ? 'hex(value) AS value' : 'value')

/** `get`: the rows of up to `SQL_MAX_PARAMS - 1` keys of a thread per statement (order restored by the caller). */
export function getStatements(t: SqlTables, thread: string, keys: readonly string[], form: ValueForm = 'blob'): SqlStatement[] {
  const unique = [...new Set(keys)]
  const out: SqlStatement[] = []
  for (let i = 0; i < unique.length; i += SQL_MAX_PARAMS - 1) {
    const group = unique.slice(i, i + SQL_MAX_PARAMS - 1)
    out.push({ sql: `SELECT key, ${valueColumn(form)} FROM ${t.kv} WHERE thread = ? AND key IN (${group.map(() => '?').join(', ')})`, params: [thread, ...group] })
  }
  return out
}

const HEX_DIGITS = (() => {
  const table = new Uint8Array(128)
  for (let i = 0; i < 16; i++) {
    table['0123456789abcdef'.charCodeAt(i)] = i
    table['0123456789ABCDEF'.charCodeAt(i)] = i
  }
  return table
})()

/**
 * Bytes of the hex text SQLite's `hex()` returns (upper case, two digits a byte). Not validated digit by digit: the text
 * comes from SQLite, and what the history layer reads is checksummed.
 */
export function fromHex(value: unknown): Uint8Array {
  if (typeof value !== 'string' || value.length % 2 !== 0) throw new TypeError('expected the hex text of a BLOB')
  const out = new Uint8Array(value.length / 2)
  for (let i = 0, j = 0; i < out.length; i++, j += 2) out[i] = ((HEX_DIGITS[value.charCodeAt(j)] as number) << 4) | (HEX_DIGITS[value.charCodeAt(j + 1)] as number)
  return out
}

/** One page of a scan: `from` inclusive, `to` exclusive, in key order or reverse, at most `count` rows. */
export function scanStatement(t: SqlTables, thread: string, page: ScanPage, form: ValueForm = 'blob'): SqlStatement {
  const where = ['thread = ?']
  const params: SqlParam[] = [thread]
  if (page.from !== undefined) {
    where.push('key >= ?')
    params.push(page.from)
  }
  if (page.to !== undefined) {
    where.push('key < ?')
    params.push(page.to)
  }
  params.push(page.count)
  return { sql: `SELECT key, ${valueColumn(form)} FROM ${t.kv} WHERE ${where.join(' AND ')} ORDER BY key ${page.reverse ? 'DESC' : 'ASC'} LIMIT ?`, params }
}

/**
 * The SQL condition "the guard holds", with its parameters: `key` absent when `expect` is undefined, else
 * present with exactly these bytes (BLOB `=` compares byte for byte; an empty blob is not an absent row).
 */
export function guardCondition(t: SqlTables, thread: string, key: string, expect: Uint8Array | undefined): SqlStatement {
  return expect === undefined
    ? { sql: `NOT EXISTS (SELECT 1 FROM ${t.kv} WHERE thread = ? AND key = ?)`, params: [thread, key] }
    : { sql: `EXISTS (SELECT 1 FROM ${t.kv} WHERE thread = ? AND key = ? AND value = ?)`, params: [thread, key, blob(expect)] }
}

/** The guard's current value, for backends that check it in code inside their transaction (Durable Objects). */
export function guardReadStatement(t: SqlTables, thread: string, key: string): SqlStatement {
  return { sql: `SELECT value FROM ${t.kv} WHERE thread = ? AND key = ?`, params: [thread, key] }
}

/** The SQL text of {@link commitStatements} by shape, built once: texts repeat, and drivers cache prepared statements by text. */
const commitSql = new Map<string, string>()

function cachedSql(shape: string, build: () => string): string {
  let sql = commitSql.get(shape)
  if (sql === undefined) commitSql.set(shape, (sql = build()))
  return sql
}

/**
 * The thread's stamp as an upsert that leaves the row alone when it already holds this time: commits within one
 * millisecond (a fast graph's steps) then write no row of the threads table or of its time index, which on SQLite
 * are two pages (two WAL frames) of every commit, and on D1 and Durable Objects two rows written.
 */
function stampSql(t: SqlTables): string {
  return cachedSql(`${t.threads}:stamp`, () => `INSERT INTO ${t.threads} (thread, updated_at) VALUES (?, ?) ON CONFLICT (thread) DO UPDATE SET updated_at = excluded.updated_at WHERE updated_at <> excluded.updated_at`)
}

/**
 * The writes of one commit, in order: deletes, then puts (a key both deleted and put ends up put, as in the
 * reference adapter), then the thread's `updated_at` (or its removal when the commit left it without keys).
 * Multi-row statements are split to stay within 100 bound parameters and about one value's worth of bytes.
 */
export function commitStatements(t: SqlTables, thread: string, batch: Batch, now: number): SqlStatement[] {
  const out: SqlStatement[] = []
  const dels = [...new Set(batch.del ?? [])]
  for (let i = 0; i < dels.length; i += SQL_MAX_PARAMS - 1) {
    const group = dels.slice(i, i + SQL_MAX_PARAMS - 1)
    out.push({ sql: `DELETE FROM ${t.kv} WHERE thread = ? AND key IN (${group.map(() => '?').join(', ')})`, params: [thread, ...group] })
  }
  const rowsPerStatement = Math.floor(SQL_MAX_PARAMS / 3)
  let params: SqlParam[] = []
  let bytes = 0
  const flush = () => {
    const rows = params.length / 3
    if (rows === 0) return
    const sql = cachedSql(`${t.kv}:put:${rows}`, () => `INSERT INTO ${t.kv} (thread, key, value) VALUES ${Array.from({ length: rows }, () => '(?, ?, ?)').join(', ')} ON CONFLICT (thread, key) DO UPDATE SET value = excluded.value`)
    out.push({ sql, params })
    params = []
    bytes = 0
  }
  for (const [key, value] of batch.put ?? []) {
    if (params.length === 3 * rowsPerStatement || (params.length > 0 && bytes + value.length > MAX_STATEMENT_VALUE_BYTES)) flush()
    params.push(thread, key, blob(value))
    bytes += value.length
  }
  flush()
  out.push({ sql: stampSql(t), params: [thread, now] })
  // Only a commit that deletes can leave the thread empty.
  if (dels.length > 0) out.push({ sql: `DELETE FROM ${t.threads} WHERE thread = ? AND NOT EXISTS (SELECT 1 FROM ${t.kv} WHERE thread = ?)`, params: [thread, thread] })
  return out
}

/** Removes a thread: its keys and its entry in the threads table. */
export function deleteThreadStatements(t: SqlTables, thread: string): SqlStatement[] {
  return [
    { sql: `DELETE FROM ${t.kv} WHERE thread = ?`, params: [thread] },
    { sql: `DELETE FROM ${t.threads} WHERE thread = ?`, params: [thread] },
  ]
}

/** Where a page of `threads()` starts: after this (updated_at, thread) pair. */
export interface ThreadsCursor {
  updatedAt: number
  thread: string
}

/** One page of threads, oldest update first (ties by name), optionally only those updated before a time. */
export function threadsStatement(t: SqlTables, after: ThreadsCursor | undefined, updatedBefore: number | undefined, count: number, prefix?: string): SqlStatement {
  const where: string[] = []
  const params: SqlParam[] = []
  if (prefix !== undefined && prefix !== '') {
    // A key range on the primary key (ids are printable ASCII, all below \x7f): only these threads' rows are read.
    where.push('thread >= ? AND thread < ?')
    params.push(prefix, `${prefix}\x7f`)
  }
  if (updatedBefore !== undefined) {
    where.push('updated_at < ?')
    params.push(updatedBefore)
  }
  if (after !== undefined) {
    where.push('(updated_at > ? OR (updated_at = ? AND thread > ?))')
    params.push(after.updatedAt, after.updatedAt, after.thread)
  }
  params.push(count)
  // With a prefix, "+updated_at" keeps SQLite from walking the time index over every thread to skip the sort.
  const order = prefix ? '+updated_at ASC, thread ASC' : 'updated_at ASC, thread ASC'
  return { sql: `SELECT thread, updated_at FROM ${t.threads}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ?`, params }
}

/** Reads `threads()` page by page until `limit` threads were yielded or none are left. */
export async function* pagedThreads(
  read: (after: ThreadsCursor | undefined, count: number) => Promise<ThreadsCursor[]>,
  options: { updatedBefore?: number; limit?: number; after?: ThreadsCursor },
  size: number,
): AsyncIterable<{ thread: string; updatedAt: number }> {
  let left = options.limit ?? Number.POSITIVE_INFINITY
  let after: ThreadsCursor | undefined = options.after
  while (left > 0) {
    const count = Math.min(size, left)
    const page = await read(after, count)
    for (const row of page) yield { thread: row.thread, updatedAt: row.updatedAt }
    if (page.length < count) return
    left -= page.length
    after = page[page.length - 1]
  }
}

/**
 * Maps a SQLite / D1 failure to a typed error naming the adapter and thread (none for `threads()`). Out-of-space
 * errors become `QUOTA_EXCEEDED`, a row SQLite refuses as too big `VALUE_TOO_LARGE`, anything else `STORAGE_FAILED`.
 */
export function sqlError(err: unknown, adapter: AdapterRef, thread: string | undefined, action: string): EdgegraphError {
  if (isEdgegraphError(err)) return err
  const message = err instanceof Error ? err.message : String(err)
  const what = `${action} failed: ${message}`
  if (/SQLITE_FULL|disk is full|database size|maximum (db|database) size|storage (limit|quota)|exceeded .*storage/i.test(message)) {
    return quotaExceeded(adapter, thread, what, err)
  }
  if (/SQLITE_TOOBIG|too big|too large/i.test(message)) return adapterError(adapter, 'VALUE_TOO_LARGE', `${what}. Nothing of this commit was written.`, { thread, cause: err })
  return adapterError(adapter, 'STORAGE_FAILED', `${what}.`, { thread, cause: err })
}

/**
 * D1's guard as a statement of its own: makes the batch fail (and roll back) unless the guard holds. See the
 * notes at the top of adapters/d1.ts; here rather than there so tests can use it without it being published.
 */
export function d1GuardStatement(t: SqlTables, thread: string, guard: Guard): SqlStatement {
  const condition = guardCondition(t, thread, guard.key, guard.expect)
  return { sql: `INSERT INTO ${t.guard} (ok) SELECT CASE WHEN ${condition.sql} THEN 1 ELSE 0 END`, params: condition.params }
}

/**
 * D1's write of the guarded key that is also the guard, with other puts in the same statement: the guarded key's row
 * comes first and stores `value` when the guard holds, else NULL, which the table's NOT NULL refuses, failing the
 * statement and rolling back the batch. Rows are inserted in order, so the guard reads the key before anything of
 * this commit is written. The caller keeps `others` within {@link fitsOneWrite}'s limits.
 */
export function d1GuardedPuts(t: SqlTables, thread: string, guard: Guard, value: Uint8Array, others: readonly [string, Uint8Array][] = []): SqlStatement {
  const rows = [`(?1, ?2, CASE WHEN (SELECT value FROM ${t.kv} WHERE thread = ?1 AND key = ?2) IS ?3 THEN ?4 ELSE NULL END)`]
  const params: SqlParam[] = [thread, guard.key, guard.expect ? blob(guard.expect) : null, blob(value)]
  for (const [key, v] of others) {
    rows.push(`(?1, ?${params.length + 1}, ?${params.length + 2})`)
    params.push(key, blob(v))
  }
  return { sql: `INSERT INTO ${t.kv} (thread, key, value) VALUES ${rows.join(', ')} ON CONFLICT (thread, key) DO UPDATE SET value = excluded.value`, params }
}

/** True when a D1 batch failed on either guard form, i.e. the head moved. */
export function isD1GuardFailure(t: SqlTables, err: unknown): boolean {
  const message = err instanceof Error ? `${err.message} ${String((err as { cause?: unknown }).cause ?? '')}` : String(err)
  return /edgegraph_guard_failed/.test(message) || message.includes(`NOT NULL constraint failed: ${t.kv}.value`)
}
