/** @module PostgreSQL storage adapter (on `pg`, node-postgres): one transaction per commit with the head guard inside it, advisory locks per thread. */
/*
 * ## How the head guard is enforced
 * Every commit (and deleteThread) is one READ COMMITTED transaction that first takes a transaction-scoped advisory
 * lock on its thread (`pg_advisory_xact_lock`, keyed by a 64-bit hash of schema, table prefix and thread). Writers of
 * one thread therefore run one after another, and the guard is read by a statement that starts after the lock was
 * granted, so it sees every commit that came before (PostgreSQL makes a transaction visible before it releases its
 * locks). A row lock (`SELECT ... FOR UPDATE`) would not do: a guard on an ABSENT key locks no row, and two inserters
 * would both find it absent. The transaction is begun as READ COMMITTED explicitly: under REPEATABLE READ (a pool's
 * `default_transaction_isolation`) the snapshot would predate the lock. A guard that does not hold rolls back with
 * nothing written and throws `CONFLICT`.
 *
 * A commit of a usual size is one statement in one round trip. The usual one, a step's puts guarded on a key among
 * them (its head), is plain SQL that takes the same lock and compares-and-sets the guarded row (see `guardedText`);
 * any other goes through the commit function, which reads the guard under the lock. A bigger commit takes three round
 * trips: BEGIN, the lock and the guard read as one simple-protocol message (its statements still take a snapshot
 * each); the deletes, puts and the thread's stamp as one statement with the values bound as binary; COMMIT alone, so
 * that a connection lost on the way says whether COMMIT had been sent.
 *
 * ## Thread locks (lockThread)
 * A session-level advisory lock (`pg_advisory_lock`, a different hash from the commit lock so the two never wait on
 * each other) held on a pooled connection for the length of `fn`. PostgreSQL drops it when that session ends, so a
 * killed process never leaves a thread locked. `wait: false` uses `pg_try_advisory_lock`; an abort while waiting
 * cancels the waiting statement (`pg_cancel_backend`).
 */
import { isEdgegraphError } from '../src/errors.js'
import { adapterError, checkPuts, conflict, pagedScan, quotaExceeded, sameBytes, type Batch, type Guard, type ScanRange, type StorageAdapter } from '../src/checkpoint/adapter.js'
import { bytesOf, pagedThreads, type ThreadsCursor } from './sql.js'

/** A prepared statement's name from its text (FNV-1a of the UTF-16 units): two adapters on one pool never clash. */
function statementName(text: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return `edgegraph_${(h >>> 0).toString(36)}_${text.length}`
}

/** A statement's text with its prepared-statement name, computed once. */
const named = (text: string) => ({ name: statementName(text), text })

/** A query result as the adapter reads it (pg's `QueryResult` fits). */
export interface PostgresResultLike {
  rows: Record<string, unknown>[]
}

/** The part of a pg `PoolClient` the adapter uses. */
export interface PostgresClientLike {
  /** One result per statement when `text` holds several (pg's simple protocol, used when there are no `values`). */
  query(text: string, values?: unknown[]): Promise<PostgresResultLike | PostgresResultLike[]>
  /** A named (prepared) statement: parsed and planned once per connection. */
  query(config: { name: string; text: string; values: unknown[] }): Promise<PostgresResultLike>
  release(destroy?: boolean | Error): void
  on(event: 'error', listener: (err: Error) => void): unknown
  removeListener(event: 'error', listener: (err: Error) => void): unknown
}

/**
 * The part of a pg `Pool` the adapter uses, written out so neither the library nor its types load `pg`: pass your
 * app's `new pg.Pool(...)`. Attach `pool.on('error', ...)` as pg asks, or a server restart crashes the process.
 */
export interface PostgresPoolLike {
  connect(): Promise<PostgresClientLike>
  query(text: string, values?: unknown[]): Promise<PostgresResultLike>
}

/** Where the tables live: `<schema>.<table>_kv` and `<schema>.<table>_threads`. */
export interface PostgresSchemaOptions {
  /** Schema (default `"public"`; created when missing). Lower-case letters, digits and `_`. */
  schema?: string
  /** Table name prefix (default `"edgegraph"`). Lower-case letters, digits and `_`; at most 40 characters. */
  table?: string
}

/** Options of {@link createPostgresAdapter}. */
export interface PostgresAdapterOptions extends PostgresSchemaOptions {
  /** Largest value per row before the history layer chunks it. Default 1 MiB; at most 64 MiB. */
  maxValueBytes?: number
}

/** The PostgreSQL adapter: the storage contract, with thread locks that work across processes. */
export interface PostgresAdapter extends StorageAdapter {
  /**
   * Runs `fn` holding this thread's advisory lock, shared by every process on the same database and tables; with
   * `wait: false`, throws `THREAD_BUSY` while another holds it. Runs take it themselves (`ifBusy` in the run config).
   */
  lockThread<T>(thread: string, fn: () => Promise<T>, options: { wait: boolean; signal?: AbortSignal }): Promise<T>
}

const MAX_VALUE_BYTES = 64 * 1024 * 1024
/** Commits up to this many value bytes go in one round trip (arrays are sent as text, hex-encoded). */
const FAST_COMMIT_BYTES = 4 * 1024 * 1024
const IDENTIFIER = /^[a-z][a-z0-9_]*$/

interface Names {
  schema: string
  table: string
  /** Quoted, schema-qualified table names. */
  kv: string
  threads: string
  /** The commit function (see {@link schemaStatements}), quoted and qualified. */
  commit: string
}

function names(options: PostgresSchemaOptions): Names {
  const schema = options.schema ?? 'public'
  const table = options.table ?? 'edgegraph'
  if (!IDENTIFIER.test(schema) || schema.length > 63 || schema.startsWith('pg_')) {
    throw adapterError('postgres', 'INVALID_ARGUMENT', `schema ${JSON.stringify(schema)} must be lower-case letters, digits and "_", starting with a letter, at most 63 characters, not "pg_...".`)
  }
  // The longest name made from it, `<table>_threads_by_time`, must fit PostgreSQL's 63-byte identifiers.
  if (!IDENTIFIER.test(table) || table.length > 40) {
    throw adapterError('postgres', 'INVALID_ARGUMENT', `table prefix ${JSON.stringify(table)} must be lower-case letters, digits and "_", starting with a letter, at most 40 characters.`)
  }
  return { schema, table, kv: `"${schema}"."${table}_kv"`, threads: `"${schema}"."${table}_threads"`, commit: `"${schema}"."${table}_commit"` }
}

/**
 * The schema the adapter creates on first use (`CREATE ... IF NOT EXISTS`, so running it again changes nothing), as
 * SQL to run yourself when the app's database role may not create tables. Keys and thread ids are `COLLATE "C"`, so
 * they sort byte by byte as the contract wants (not by locale); values are `bytea`.
 *
 * @example
 * await pool.query(postgresSchema({ schema: 'agents' }))   // in a migration, as a role that may create tables
 */
export function postgresSchema(options: PostgresSchemaOptions = {}): string {
  return schemaStatements(names(options)).join(';\n') + ';\n'
}

function schemaStatements(n: Names): string[] {
  return [
    ...(n.schema === 'public' ? [] : [`CREATE SCHEMA IF NOT EXISTS "${n.schema}"`]),
    `CREATE TABLE IF NOT EXISTS ${n.kv} (thread text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, value bytea NOT NULL, PRIMARY KEY (thread, key))`,
    `CREATE TABLE IF NOT EXISTS ${n.threads} (thread text COLLATE "C" NOT NULL PRIMARY KEY, updated_at bigint NOT NULL)`,
    `CREATE INDEX IF NOT EXISTS "${n.table}_threads_by_time" ON ${n.threads} (updated_at, thread)`,
    // A commit in one round trip: the thread's commit lock, then the guard read (a VOLATILE function's statements each
    // take a new snapshot under READ COMMITTED, so it sees every commit before the lock), then the writes, all in the
    // calling statement's transaction. Returns false, writing nothing, when the guard does not hold.
    `CREATE OR REPLACE FUNCTION ${n.commit}(p_thread text, p_lock text, p_has_guard boolean, p_guard_key text, p_expect bytea, p_keys text[], p_values bytea[], p_dels text[], p_now bigint)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE cur bytea;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(p_lock, 0));
  IF p_has_guard THEN
    SELECT value INTO cur FROM ${n.kv} WHERE thread = p_thread AND key = p_guard_key;
    IF cur IS DISTINCT FROM p_expect THEN RETURN false; END IF;
  END IF;
  IF cardinality(p_dels) > 0 THEN DELETE FROM ${n.kv} WHERE thread = p_thread AND key = ANY(p_dels); END IF;
  IF cardinality(p_keys) > 0 THEN
    INSERT INTO ${n.kv} (thread, key, value) SELECT p_thread, k, v FROM unnest(p_keys, p_values) AS u(k, v)
      ON CONFLICT (thread, key) DO UPDATE SET value = excluded.value;
  END IF;
  IF cardinality(p_keys) > 0 OR EXISTS (SELECT 1 FROM ${n.kv} WHERE thread = p_thread) THEN
    INSERT INTO ${n.threads} (thread, updated_at) VALUES (p_thread, p_now) ON CONFLICT (thread) DO UPDATE SET updated_at = excluded.updated_at;
  ELSE
    DELETE FROM ${n.threads} WHERE thread = p_thread;
  END IF;
  RETURN true;
END
$fn$`,
  ]
}

/**
 * Creates an adapter on a pg (node-postgres) pool: the driver LangGraph's `PostgresSaver` uses, so one app pool can
 * serve both. Tables are created on first use (see {@link postgresSchema}). Each running thread holds one pooled
 * connection for its lock and takes another for each commit: give the pool more connections than threads you run at
 * once (pg's default is 10).
 *
 * @example
 * import pg from 'pg'
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
 * pool.on('error', (err) => console.error('idle PostgreSQL client failed', err))
 * const graph = builder.compile({ checkpointer: createPostgresAdapter(pool, { schema: 'agents' }) })
 */
export function createPostgresAdapter(pool: PostgresPoolLike, options: PostgresAdapterOptions = {}): PostgresAdapter {
  const n = names(options)
  const adapter = { name: 'postgres', store: `tables ${n.schema}.${n.table}_*` }
  const maxValueBytes = options.maxValueBytes ?? 1024 * 1024
  if (!Number.isInteger(maxValueBytes) || maxValueBytes <= 0 || maxValueBytes > MAX_VALUE_BYTES) {
    throw adapterError(adapter, 'INVALID_ARGUMENT', `maxValueBytes must be an integer from 1 to ${MAX_VALUE_BYTES}, got ${maxValueBytes}.`)
  }
  if (typeof pool?.connect !== 'function' || typeof pool.query !== 'function') {
    throw adapterError(adapter, 'INVALID_ARGUMENT', 'pass a pg Pool: createPostgresAdapter(new pg.Pool({ connectionString })).')
  }
  // A pg Client has connect() and query() too, but it is one connection: commits and thread locks need several.
  if (typeof (pool as { escapeIdentifier?: unknown }).escapeIdentifier === 'function') {
    throw adapterError(adapter, 'INVALID_ARGUMENT', 'pass a pg Pool, not a pg Client: each commit and each thread lock takes a connection of its own.')
  }
  // Scan pages hold at most about 64 MiB of values.
  const scanPage = Math.max(1, Math.min(128, Math.floor(MAX_VALUE_BYTES / maxValueBytes)))
  const lockKey = (kind: 'commit' | 'run' | 'migrate', thread = '') => `edgegraph/${n.schema}.${n.table}/${kind}/${thread}`

  const fail = (err: unknown, thread: string | undefined, action: string, phase: Phase) => pgError(err, adapter, thread, action, phase)

  /** A pooled client, with an 'error' listener while it is out (pg emits 'error' on a checked-out client whose connection dies). */
  async function checkout(): Promise<{ client: PostgresClientLike; lost: () => unknown; done: (destroy?: boolean) => void }> {
    const client = await pool.connect()
    if (typeof client?.query !== 'function' || typeof client.release !== 'function') {
      throw adapterError(adapter, 'INVALID_ARGUMENT', 'pool.connect() did not return a pooled client: pass a pg Pool, not a pg Client.')
    }
    let lost: unknown
    const onError = (err: Error) => {
      lost = err
    }
    client.on('error', onError)
    return {
      client,
      lost: () => lost,
      done: (destroy = false) => {
        client.release(destroy || lost !== undefined)
        client.removeListener('error', onError)
      },
    }
  }

  let ready: Promise<void> | undefined
  const ensure = (): Promise<void> => {
    ready ??= migrate().catch((err) => {
      ready = undefined
      throw err
    })
    return ready
  }
  async function migrate(): Promise<void> {
    const fn = `${n.commit}(text,text,boolean,text,bytea,text[],bytea[],text[],bigint)`
    const { rows } = await pool.query('SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AND to_regprocedure($3) IS NOT NULL AS present', [n.kv, n.threads, fn])
    if (rows[0]?.present === true) return
    // Two processes starting at once would race CREATE TABLE IF NOT EXISTS (it can fail on the catalog's unique index).
    await transaction(undefined, 'creating the tables', [lockStatement('migrate'), ...schemaStatements(n)], async () => {}, false)
  }

  /** `pg_advisory_xact_lock` on a key of this adapter's tables, as SQL text (for the simple protocol, see below). */
  const lockStatement = (kind: 'commit' | 'migrate', thread = '') => `SELECT pg_advisory_xact_lock(hashtextextended(${literal(lockKey(kind, thread))}, 0))`

  /**
   * Runs one READ COMMITTED transaction on one pooled client and maps every failure to a typed error. `opening` (BEGIN,
   * then these statements) goes as ONE simple-protocol message, one round trip; each statement in it still takes its
   * own snapshot, so a read after the lock sees every commit before it. `body` gets the rows of the last one and sends
   * what needs bound parameters; COMMIT goes alone, so a lost connection says whether it had been sent.
   */
  async function transaction<T>(thread: string | undefined, action: string, opening: string[], body: (rows: Record<string, unknown>[], q: Query) => Promise<T>, writing = true): Promise<T> {
    let phase: Phase = writing ? 'before-commit' : 'read'
    let out: Awaited<ReturnType<typeof checkout>>
    try {
      out = await checkout()
    } catch (err) {
      throw fail(err, thread, action, phase)
    }
    const { client, lost, done } = out
    let destroy = false
    try {
      const opened = rowsOf(await client.query(['BEGIN ISOLATION LEVEL READ COMMITTED', ...opening].join(';\n')))
      // Commit statements repeat (a few shapes per batch size): prepared once per connection, not parsed each time.
      const result = await body(opened, async (sql, values) => rowsOf(await client.query({ name: statementName(sql), text: sql, values: values ?? [] })))
      if (writing) phase = 'commit-sent'
      await client.query('COMMIT')
      return result
    } catch (err) {
      if (phase !== 'commit-sent') {
        // Nothing of it stays: PostgreSQL rolls back a transaction whose session ends before COMMIT.
        await client.query('ROLLBACK').catch(() => {
          destroy = true
        })
      } else destroy = true
      throw fail(isEdgegraphError(err) ? err : (lost() ?? err), thread, action, phase)
    } finally {
      done(destroy)
    }
  }

  async function query(thread: string | undefined, action: string, sql: string, values: unknown[]): Promise<Record<string, unknown>[]> {
    try {
      await ensure()
      return (await pool.query(sql, values)).rows
    } catch (err) {
      throw fail(err, thread, action, 'read')
    }
  }

  /**
   * A commit of a usual size in one round trip: one named statement in its own implicit transaction, true when its
   * guard held. Once the call is sent its outcome is known only from the answer: a lost connection then "may or may not
   * have landed"; an error answer means nothing was written.
   */
  async function commitOnce(thread: string, statement: { name: string; text: string }, values: unknown[]): Promise<boolean> {
    let out: Awaited<ReturnType<typeof checkout>>
    try {
      await ensure()
      out = await checkout()
    } catch (err) {
      throw fail(err, thread, 'commit', 'before-commit')
    }
    const { client, lost, done } = out
    let destroy = false
    try {
      const [row] = rowsOf(await client.query({ ...statement, values }))
      return row?.ok === true
    } catch (err) {
      destroy = true
      throw fail(lost() ?? err, thread, 'commit', 'commit-sent')
    } finally {
      done(destroy)
    }
  }

  /** Any commit of a usual size: the commit function (see {@link schemaStatements}), which reads the guard under the thread's lock. */
  const callStatement = named(`SELECT ${n.commit}($1, $2, $3, $4, $5, $6, $7, $8, $9) AS ok`)
  const callCommit = (thread: string, puts: [string, Uint8Array][], dels: string[], guard: Guard | undefined) =>
    commitOnce(thread, callStatement, [thread, lockKey('commit', thread), guard !== undefined, guard?.key ?? '', guard?.expect ?? null, puts.map(([k]) => k), puts.map(([, v]) => v), dels, Date.now()])

  /**
   * The usual commit, puts whose guard is on one of them (a step: its record, and the head it moves), as one plain
   * statement: no PL/pgSQL call, which costs more than the statements it runs. The guard is a compare-and-set on the
   * guarded row itself: an UPDATE of it `WHERE value = <expected>` (or, for "absent", an INSERT ... ON CONFLICT DO
   * NOTHING), and the other rows and the thread's stamp are written only when that row was. The statement's snapshot
   * may predate a concurrent commit, but an UPDATE that finds its row changed by a transaction that committed meanwhile
   * checks its WHERE again against the new row (READ COMMITTED), and an ON CONFLICT insert sees committed and in-flight
   * rows, so of two writers with one expectation exactly one wins. The thread's commit lock is still taken (before the
   * guarded row is written) so deleteThread, and the commit function, never interleave with it. The expected value is
   * always one read from a commit that finished before this statement began, so a snapshot that is old cannot refuse it.
   */
  const guardedText = (absent: boolean) =>
    `WITH lock AS (SELECT pg_advisory_xact_lock(hashtextextended($2::text, 0)) AS held),
     head AS (${
       absent
         ? `INSERT INTO ${n.kv} (thread, key, value) SELECT $1::text, $3::text, $5::bytea FROM lock WHERE $4::bytea IS NULL ON CONFLICT (thread, key) DO NOTHING RETURNING 1`
         : `UPDATE ${n.kv} SET value = $5::bytea FROM lock WHERE thread = $1::text AND key = $3::text AND value = $4::bytea RETURNING 1`
     }),
     put AS (INSERT INTO ${n.kv} (thread, key, value) SELECT $1::text, k, v FROM unnest($6::text[], $7::bytea[]) AS u(k, v) WHERE EXISTS (SELECT 1 FROM head)
       ON CONFLICT (thread, key) DO UPDATE SET value = excluded.value),
     stamp AS (INSERT INTO ${n.threads} (thread, updated_at) SELECT $1::text, $8::bigint WHERE EXISTS (SELECT 1 FROM head)
       ON CONFLICT (thread) DO UPDATE SET updated_at = excluded.updated_at)
     SELECT EXISTS (SELECT 1 FROM head) AS ok`
  const guardedStatements = { absent: named(guardedText(true)), present: named(guardedText(false)) }
  const guardedCommit = (thread: string, puts: [string, Uint8Array][], guard: Guard, value: Uint8Array) => {
    const others = puts.filter(([k]) => k !== guard.key)
    const statement = guard.expect === undefined ? guardedStatements.absent : guardedStatements.present
    return commitOnce(thread, statement, [thread, lockKey('commit', thread), guard.key, guard.expect ?? null, value, others.map(([k]) => k), others.map(([, v]) => v), Date.now()])
  }

  /** A write of `thread`: its transaction opens with the thread's commit lock, then `opening`. */
  async function write(thread: string, action: string, opening: string[], body: (rows: Record<string, unknown>[], q: Query) => Promise<void>): Promise<void> {
    try {
      await ensure()
    } catch (err) {
      throw fail(err, thread, action, 'before-commit')
    }
    await transaction(thread, action, [lockStatement('commit', thread), ...opening], body)
  }

  return {
    name: 'postgres',
    limits: { maxValueBytes },

    async get(thread, keys) {
      if (keys.length === 0) return []
      const rows = await query(thread, 'get', `SELECT key, value FROM ${n.kv} WHERE thread = $1::text AND key = ANY($2::text[])`, [thread, [...new Set(keys)]])
      const found = new Map(rows.map((r) => [r.key as string, r.value]))
      // A fresh copy per position: a key asked twice must not return one shared array.
      return keys.map((k) => (found.has(k) ? bytesOf(found.get(k)) : undefined))
    },

    scan(thread, range: ScanRange = {}) {
      return pagedScan(range, scanPage, async (page) => {
        const where = ['thread = $1::text']
        const values: unknown[] = [thread]
        // PostgreSQL text cannot hold NUL, and pagedScan resumes from `<last key>\0`. For keys without NUL (the
        // contract's printable ASCII), `key >= 'x\0...'` is `key > 'x'` and `key < 'x\0...'` is `key <= 'x'`.
        if (page.from !== undefined) {
          const cut = page.from.indexOf('\0')
          where.push(cut < 0 ? `key >= $${values.push(page.from)}::text` : `key > $${values.push(page.from.slice(0, cut))}::text`)
        }
        if (page.to !== undefined) {
          const cut = page.to.indexOf('\0')
          where.push(cut < 0 ? `key < $${values.push(page.to)}::text` : `key <= $${values.push(page.to.slice(0, cut))}::text`)
        }
        const sql = `SELECT key, value FROM ${n.kv} WHERE ${where.join(' AND ')} ORDER BY key ${page.reverse ? 'DESC' : 'ASC'} LIMIT $${values.push(page.count)}`
        return (await query(thread, 'scan', sql, values)).map((r) => [r.key as string, bytesOf(r.value)] as [string, Uint8Array])
      })
    },

    async commit(thread, batch: Batch, guard?: Guard) {
      checkPuts(batch, maxValueBytes, adapter, thread)
      // The last put of a key wins, and a key both deleted and put ends up put (as in the reference adapter), so the
      // deletes and the puts touch different rows and can go in one statement.
      const latest = new Map(batch.put ?? [])
      const puts = [...latest]
      const dels = [...new Set(batch.del ?? [])].filter((k) => !latest.has(k))
      if (puts.length <= 1000 && puts.reduce((b, [, v]) => b + v.length, 0) <= FAST_COMMIT_BYTES) {
        const guarded = guard && dels.length === 0 ? latest.get(guard.key) : undefined
        const ok = guarded ? await guardedCommit(thread, puts, guard as Guard, guarded) : await callCommit(thread, puts, dels, guard)
        if (!ok) throw conflict(adapter, thread, (guard as Guard).key)
        return
      }
      const guardRead = guard ? [`SELECT value FROM ${n.kv} WHERE thread = ${literal(thread)} AND key = ${literal(guard.key)}`] : []
      await write(thread, 'commit', guardRead, async (rows, q) => {
        if (guard && !sameBytes(rows[0] === undefined ? undefined : bytesOf(rows[0].value), guard.expect)) throw conflict(adapter, thread, guard.key)
        const groups = putGroups(puts)
        // Past 1000 puts or 64 MiB, the first groups go in statements of their own.
        for (const group of groups.slice(0, -1)) {
          const values: unknown[] = [thread]
          await q(`INSERT INTO ${n.kv} (thread, key, value) VALUES ${tuples(group, values)} ON CONFLICT (thread, key) DO UPDATE SET value = excluded.value`, values)
        }
        // One statement for the rest: deletes, the last group of puts, and the thread's stamp (or its removal when no
        // key is left). Its parts all see the table as it was before it; the keys left are computed from that.
        const values: unknown[] = [thread, dels, puts.length > 0, Date.now()]
        const last = groups.at(-1)
        await q(
          `WITH del AS (DELETE FROM ${n.kv} WHERE thread = $1::text AND key = ANY($2::text[])),
           ${last ? `put AS (INSERT INTO ${n.kv} (thread, key, value) VALUES ${tuples(last, values)} ON CONFLICT (thread, key) DO UPDATE SET value = excluded.value),` : ''}
           live AS (SELECT $3::boolean OR EXISTS (SELECT 1 FROM ${n.kv} WHERE thread = $1::text AND NOT (key = ANY($2::text[]))) AS yes),
           stamp AS (INSERT INTO ${n.threads} (thread, updated_at) SELECT $1::text, $4::bigint FROM live WHERE yes
             ON CONFLICT (thread) DO UPDATE SET updated_at = excluded.updated_at)
           DELETE FROM ${n.threads} WHERE thread = $1::text AND NOT (SELECT yes FROM live)`,
          values,
        )
      })
    },

    async deleteThread(thread) {
      const t = literal(thread)
      await write(thread, 'deleteThread', [`DELETE FROM ${n.kv} WHERE thread = ${t}`, `DELETE FROM ${n.threads} WHERE thread = ${t}`], async () => {})
    },

    threads(opts = {}) {
      const read = async (after: ThreadsCursor | undefined, count: number): Promise<ThreadsCursor[]> => {
        const where: string[] = []
        const values: unknown[] = []
        if (opts.prefix !== undefined && opts.prefix !== '') {
          // A key range on the primary key: only these threads' rows are read.
          where.push(`thread >= $${values.push(opts.prefix)}::text`)
          const end = prefixEnd(opts.prefix)
          if (end !== undefined) where.push(`thread < $${values.push(end)}::text`)
        }
        if (opts.updatedBefore !== undefined) where.push(`updated_at < $${values.push(opts.updatedBefore)}::bigint`)
        if (after !== undefined) where.push(`(updated_at, thread) > ($${values.push(after.updatedAt)}::bigint, $${values.push(after.thread)}::text)`)
        // With a prefix, `updated_at + 0` keeps the planner from walking the time index over every thread to skip the sort.
        const order = opts.prefix ? '(updated_at + 0), thread' : 'updated_at, thread'
        const sql = `SELECT thread, updated_at FROM ${n.threads}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT $${values.push(count)}`
        return (await query(undefined, 'threads', sql, values)).map((r) => ({ thread: r.thread as string, updatedAt: Number(r.updated_at) }))
      }
      return pagedThreads(read, opts, 256)
    },

    async lockThread<T>(thread: string, fn: () => Promise<T>, { wait, signal }: { wait: boolean; signal?: AbortSignal }): Promise<T> {
      const aborted = () => adapterError(adapter, 'ABORTED', 'the run was aborted while waiting for another process to finish this thread. Nothing was written.', { thread, cause: signal?.reason })
      if (signal?.aborted) throw aborted()
      let out: Awaited<ReturnType<typeof checkout>>
      try {
        out = await checkout()
      } catch (err) {
        throw fail(err, thread, 'lockThread', 'read')
      }
      const { client, done } = out
      const key = lockKey('run', thread)
      let acquired: boolean
      try {
        if (wait) acquired = await waitForLock(client, key, signal)
        else acquired = rowsOf(await client.query('SELECT pg_try_advisory_lock(hashtextextended($1::text, 0)) AS ok', [key]))[0]?.ok === true
      } catch (err) {
        // A failed or abandoned wait: the connection is closed, so no lock it may still get can stay behind.
        done(true)
        if (signal?.aborted) throw aborted()
        throw fail(err, thread, 'lockThread', 'read')
      }
      if (!acquired) {
        done()
        throw adapterError(adapter, 'THREAD_BUSY', `another process is running this thread. Wait for it, or run with ifBusy: 'wait' to queue behind it.`, { thread })
      }
      if (signal?.aborted) {
        done(!(await unlock(client, key)))
        throw aborted()
      }
      try {
        return await fn()
      } finally {
        // If the lock's connection died, PostgreSQL has dropped the lock already (the head guard still stops a second writer).
        done(!(await unlock(client, key)))
      }
    },
  }

  /**
   * Waits for `pg_advisory_lock`. An abort of `signal` gives up at once: the waiting statement is cancelled from
   * another connection, and the caller closes this one, so even a lock granted after the cancel is dropped.
   */
  async function waitForLock(client: PostgresClientLike, key: string, signal: AbortSignal | undefined): Promise<true> {
    const sql = 'SELECT pg_advisory_lock(hashtextextended($1::text, 0))'
    if (!signal) {
      await client.query(sql, [key])
      return true
    }
    const pid = rowsOf(await client.query('SELECT pg_backend_pid() AS pid'))[0]?.pid
    let onAbort = () => {}
    const abandoned = new Promise<never>((_, reject) => {
      onAbort = () => {
        void pool.query('SELECT pg_cancel_backend($1::int)', [pid]).catch(() => {})
        reject(signal.reason)
      }
    })
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
    const locking = client.query(sql, [key])
    locking.catch(() => {}) // when abandoned, its failure is expected and not reported
    try {
      await Promise.race([locking, abandoned])
      return true
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }
}

/** Releases a session advisory lock; false when that failed (the connection is then destroyed, which drops it). */
async function unlock(client: PostgresClientLike, key: string): Promise<boolean> {
  try {
    await client.query('SELECT pg_advisory_unlock(hashtextextended($1::text, 0))', [key])
    return true
  } catch {
    return false
  }
}

/** The rows of a result, or of the last statement's when a message held several. */
function rowsOf(result: PostgresResultLike | PostgresResultLike[]): Record<string, unknown>[] {
  return (Array.isArray(result) ? result[result.length - 1] : result)?.rows ?? []
}

/** Runs one statement with bound parameters on the transaction's client; returns its rows. */
type Query = (sql: string, values?: unknown[]) => Promise<Record<string, unknown>[]>

/**
 * A string as a SQL expression with no quoting to get wrong: its UTF-8 bytes in hex, decoded by the server (so
 * `standard_conforming_strings` and backslashes do not matter). For the simple protocol, which has no parameters.
 */
function literal(text: string): string {
  const hex = Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join('')
  return `convert_from(decode('${hex}', 'hex'), 'UTF8')`
}

/** `($1, $k, $v), ...` for `rows`, their keys and values pushed onto `values` ($1 is the thread). Values bound one per parameter go as binary. */
function tuples(rows: [string, Uint8Array][], values: unknown[]): string {
  return rows.map(([key, value]) => `($1::text, $${values.push(key)}::text, $${values.push(value)}::bytea)`).join(', ')
}

/** Puts in groups of at most 1000 rows and about 64 MiB of values per INSERT (one bigger value goes alone). */
function putGroups(puts: [string, Uint8Array][]): [string, Uint8Array][][] {
  const groups: [string, Uint8Array][][] = []
  let group: [string, Uint8Array][] = []
  let bytes = 0
  for (const put of puts) {
    if (group.length === 1000 || (group.length > 0 && bytes + put[1].length > MAX_VALUE_BYTES)) {
      groups.push(group)
      group = []
      bytes = 0
    }
    group.push(put)
    bytes += put[1].length
  }
  if (group.length > 0) groups.push(group)
  return groups
}

/** The first string after every string that starts with `prefix`, in code point (UTF-8 byte) order; undefined if none. */
function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix, (c) => c.codePointAt(0) as number)
  while (points.length > 0) {
    let last = (points.pop() as number) + 1
    if (last === 0xd800) last = 0xe000
    if (last <= 0x10ffff) return String.fromCodePoint(...points, last)
  }
  return undefined
}

/** Where a failed call was: what can be said about a write depends on whether COMMIT had been sent. */
type Phase = 'read' | 'before-commit' | 'commit-sent'

/** SQLSTATEs and socket errors that mean the server cannot be reached or the session was cut off. */
function connectionLost(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined
  const code = typeof e?.code === 'string' ? e.code : ''
  if (/^(08|57P0[123]$|53300$|E(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|NOTFOUND|AI_AGAIN)$)/.test(code)) return true
  return /Connection terminated|not queryable|timeout exceeded when trying to connect|Cannot use a pool after calling end/i.test(String(e?.message ?? ''))
}

/** Maps a pg / PostgreSQL failure to a typed error naming the adapter, the tables and the thread, truthful about a write's outcome. */
function pgError(err: unknown, adapter: { name: string; store: string }, thread: string | undefined, action: string, phase: Phase): unknown {
  if (isEdgegraphError(err)) return err
  const e = err as { code?: unknown; message?: unknown } | undefined
  const code = typeof e?.code === 'string' ? e.code : undefined
  const what = `${action} failed: ${String(e?.message ?? err)}${code === undefined ? '' : ` (${code})`}`
  const options = { thread, cause: err }
  if (connectionLost(err)) {
    if (phase === 'commit-sent') {
      return adapterError(adapter, 'STORAGE_FAILED', `${what}. The connection was lost after the commit was sent, so the write may or may not have landed: read the thread (getState) before repeating an input; invoke(null) continues safely.`, options)
    }
    const rolledBack = phase === 'before-commit' ? ' Nothing of this write was committed (PostgreSQL rolls back a transaction cut off before COMMIT).' : ''
    return adapterError(adapter, 'STORAGE_UNAVAILABLE', `${what}: PostgreSQL is unreachable or the connection was lost.${rolledBack} Retry once the server is back.`, options)
  }
  const outcome = phase === 'commit-sent' ? ' COMMIT failed, so the write did not land.' : phase === 'before-commit' ? ' Nothing was written.' : ''
  if (code === '53100') return quotaExceeded(adapter, thread, `PostgreSQL is out of disk space (${what})`, err)
  if (code === '40001' || code === '40P01') {
    return adapterError(adapter, 'CONFLICT', `${what}: PostgreSQL could not serialize this write with a concurrent one. Nothing was written; reload and retry.`, options)
  }
  if (code !== undefined && /^(28|3D000$|42501$|25006$)/.test(code)) {
    return adapterError(adapter, 'STORAGE_UNAVAILABLE', `${what}: the pool's role cannot use these tables (login, database, privileges or a read-only server). Create them with postgresSchema() as a role that may, or fix the connection settings.${outcome}`, options)
  }
  return adapterError(adapter, 'STORAGE_FAILED', `${what}.${outcome}`, options)
}
