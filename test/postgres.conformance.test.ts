/**
 * @module The PostgreSQL adapter against a real PostgreSQL server (test/servers): the conformance suite, then what only
 * a server shows: two pools racing one head, thread locks across pools and processes, a connection cut mid-commit and
 * after COMMIT, the server's disk-full error, and a `kill -9` of the server mid-run.
 */
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { END, START, StateGraph, isEdgegraphError, type StorageAdapter } from '../src/index.js'
import { createPostgresAdapter, postgresSchema, type PostgresPoolLike } from '../adapters/postgres.js'
import { runConformance } from './conformance/index.js'
import { collect, dump, gate, rejectsWith, utf8 } from './conformance/suite.js'
import { appendList } from './helpers.js'
import { startPostgres, type TestServer } from './servers/index.js'

let server: TestServer
let pool: pg.Pool
/** Errors pg reported on idle clients (a server restart ends them): kept, so none goes unhandled. */
const idleErrors: Error[] = []
let tables = 0

const newPool = (max = 10) => {
  const p = new pg.Pool({ connectionString: server.url, max })
  p.on('error', (err) => idleErrors.push(err))
  return p
}

beforeAll(async () => {
  server = await startPostgres()
  pool = newPool()
}, 60_000)

afterAll(async () => {
  await pool?.end()
  await server?.stop()
}, 30_000)

runConformance({
  name: 'postgres',
  create: () => createPostgresAdapter(pool, { table: `c${++tables}` }),
  createSmall: () => createPostgresAdapter(pool, { table: `c${++tables}`, maxValueBytes: 4096 }),
  skip: [
    {
      reason: 'PostgreSQL has no per-table quota to set in a test (its disk-full error, 53100, is checked in this file)',
      tests: [
        'a commit refused with QUOTA_EXCEEDED changes nothing: none of its puts or deletes, on any thread',
        'a step refused with QUOTA_EXCEEDED leaves every stored checkpoint loading as before; the run resumes once space is freed',
      ],
    },
  ],
})

/** Repeats `check` (each try a round trip to the server) until it holds: waiting for the server to reach a state, never for a time. */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setImmediate(resolve))
}

const one = async <T = Record<string, unknown>>(sql: string, values: unknown[] = []) => (await pool.query(sql, values)).rows[0] as T
/** Backends waiting on a lock that backend `holder` holds. */
const blockedBy = async (holder: number) => (await pool.query('SELECT pid FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))', [holder])).rows.map((r) => r.pid as number)
/** Advisory locks waited for (not yet granted), server-wide. */
const waitingLocks = async () => (await one<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).n
/** A dedicated connection the test drives by hand (another process, as far as the adapter can tell). */
async function session(): Promise<{ client: pg.PoolClient; pid: number; done: () => void }> {
  const client = await pool.connect()
  client.on('error', (err) => idleErrors.push(err))
  const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number
  return { client, pid, done: () => client.release(true) }
}

describe('postgres adapter: schema, options and errors', () => {
  it('postgresSchema() is the migration it runs: bytea values, "C"-collated keys, in a schema a role without CREATE can then use', async () => {
    await pool.query(postgresSchema({ schema: 'app', table: 'agents' }))
    await pool.query(postgresSchema({ schema: 'app', table: 'agents' })) // idempotent
    const columns = (await pool.query("SELECT table_name, column_name, data_type, collation_name FROM information_schema.columns WHERE table_schema = 'app' ORDER BY 1, 2")).rows
    expect(columns).toEqual([
      { table_name: 'agents_kv', column_name: 'key', data_type: 'text', collation_name: 'C' },
      { table_name: 'agents_kv', column_name: 'thread', data_type: 'text', collation_name: 'C' },
      { table_name: 'agents_kv', column_name: 'value', data_type: 'bytea', collation_name: null },
      { table_name: 'agents_threads', column_name: 'thread', data_type: 'text', collation_name: 'C' },
      { table_name: 'agents_threads', column_name: 'updated_at', data_type: 'bigint', collation_name: null },
    ])
    expect((await pool.query("SELECT indexname FROM pg_indexes WHERE schemaname = 'app' AND indexdef LIKE '%(updated_at, thread)%'")).rows).toEqual([{ indexname: 'agents_threads_by_time' }])

    // An app role that may only read and write these tables (no CREATE anywhere) runs graphs on them.
    await pool.query('CREATE ROLE app_user LOGIN')
    await pool.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC')
    await pool.query('GRANT USAGE ON SCHEMA app TO app_user')
    await pool.query('GRANT SELECT, INSERT, UPDATE, DELETE ON app.agents_kv, app.agents_threads TO app_user')
    const appPool = new pg.Pool({ connectionString: server.url.replace('edgegraph@', 'app_user@') })
    appPool.on('error', (err) => idleErrors.push(err))
    try {
      const graph = new StateGraph({ log: appendList })
        .addNode('a', () => ({ log: ['a'] }))
        .addEdge(START, 'a')
        .addEdge('a', END)
        .compile({ checkpointer: createPostgresAdapter(appPool, { schema: 'app', table: 'agents' }) })
      expect(await graph.invoke({ log: ['in'] }, { threadId: 'by-app-role' })).toEqual({ log: ['in', 'a'] })
      // Tables it would have to create itself: refused, saying how to create them.
      const err = await rejectsWith(createPostgresAdapter(appPool, { table: 'not_created' }).commit('t', { put: [['k', utf8('v')]] }), 'STORAGE_UNAVAILABLE')
      expect(err.message).toMatch(/^postgres adapter \(tables public\.not_created_\*\): creating the tables failed: permission denied .*\(42501\).*postgresSchema\(\)/)
    } finally {
      await appPool.end()
    }
  })

  it('refuses bad identifiers, limits and pools with INVALID_ARGUMENT', () => {
    const bad: [string, () => unknown][] = [
      ['schema with capitals', () => createPostgresAdapter(pool, { schema: 'App' })],
      ['reserved schema', () => createPostgresAdapter(pool, { schema: 'pg_temp' })],
      ['quote in the prefix', () => createPostgresAdapter(pool, { table: 'x"; DROP TABLE y; --' })],
      ['prefix too long', () => postgresSchema({ table: 'a'.repeat(41) })],
      ['maxValueBytes 0', () => createPostgresAdapter(pool, { maxValueBytes: 0 })],
      ['maxValueBytes above 64 MiB', () => createPostgresAdapter(pool, { maxValueBytes: 64 * 1024 * 1024 + 1 })],
      ['no pool', () => createPostgresAdapter(undefined as unknown as PostgresPoolLike)],
      ['a connection string', () => createPostgresAdapter(server.url as unknown as PostgresPoolLike)],
      ['a pg Client', () => createPostgresAdapter(new pg.Client(server.url) as unknown as PostgresPoolLike)],
    ]
    for (const [what, make] of bad) {
      let error: unknown
      try {
        make()
      } catch (err) {
        error = err
      }
      expect({ what, code: isEdgegraphError(error) ? error.code : error }).toEqual({ what, code: 'INVALID_ARGUMENT' })
    }
    expect(postgresSchema({ schema: 'a1', table: 'b_2' })).toContain('CREATE TABLE IF NOT EXISTS "a1"."b_2_kv"')
  })

  it('a server that is not there: STORAGE_UNAVAILABLE for reads and writes, saying nothing was written', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number }
        srv.close(() => resolve(port))
      })
    })
    const nowhere = new pg.Pool({ connectionString: `postgres://edgegraph@127.0.0.1:${port}/postgres` })
    nowhere.on('error', (err) => idleErrors.push(err))
    const adapter = createPostgresAdapter(nowhere)
    try {
      const write = await rejectsWith(adapter.commit('t', { put: [['k', utf8('v')]] }), 'STORAGE_UNAVAILABLE')
      expect(write.message).toMatch(/^postgres adapter \(tables public\.edgegraph_\*\), thread "t": commit failed: .*ECONNREFUSED.*unreachable.*Nothing of this write was committed/)
      await rejectsWith(adapter.get('t', ['k']), 'STORAGE_UNAVAILABLE')
      await rejectsWith(collect(adapter.threads()), 'STORAGE_UNAVAILABLE')
      await rejectsWith(adapter.lockThread('t', async () => 'ran', { wait: false }), 'STORAGE_UNAVAILABLE')
    } finally {
      await nowhere.end()
    }
  })

  it("the server's disk-full error (53100) is QUOTA_EXCEEDED, and nothing of the commit is written", async () => {
    // A real full disk cannot be made here: a trigger raises the error PostgreSQL raises when it cannot extend a file.
    const adapter = createPostgresAdapter(pool, { table: 'full' })
    await adapter.commit('t', { put: [['a', utf8('A')], ['h', utf8('1')]] })
    await pool.query(`CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF octet_length(NEW.value) > 1000 THEN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END IF;
      RETURN NEW; END $$`)
    await pool.query('CREATE TRIGGER full_disk BEFORE INSERT OR UPDATE ON full_kv FOR EACH ROW EXECUTE FUNCTION full_disk()')
    const before = { t: await dump(adapter, 't'), threads: await collect(adapter.threads()) }
    const batch = { put: [['b', utf8('B')], ['big', new Uint8Array(2000)], ['h', utf8('2')]] as [string, Uint8Array][], del: ['a'] }
    const err = await rejectsWith(adapter.commit('t', batch, { key: 'h', expect: utf8('1') }), 'QUOTA_EXCEEDED')
    expect(err.message).toMatch(/out of disk space .*No space left on device.*\(53100\).*Nothing was written/)
    await rejectsWith(adapter.commit('new', batch), 'QUOTA_EXCEEDED')
    expect({ t: await dump(adapter, 't'), threads: await collect(adapter.threads()) }).toEqual(before)
    expect(await dump(adapter, 'new')).toEqual([])
  })
})

describe('postgres adapter: large commits', () => {
  it('a commit of 2,500 keys (more than one INSERT statement) lands whole, and not at all when its guard fails', async () => {
    const adapter = createPostgresAdapter(pool, { table: 'many' })
    await adapter.commit('t', { put: [['h', utf8('1')], ['old', utf8('x')]] })
    const puts = Array.from({ length: 2500 }, (_, i) => [`k/${String(i).padStart(4, '0')}`, utf8(`v${i}`)] as [string, Uint8Array])
    await rejectsWith(adapter.commit('t', { put: [...puts, ['h', utf8('2')]], del: ['old'] }, { key: 'h', expect: utf8('0') }), 'CONFLICT')
    expect((await dump(adapter, 't')).map(([k]) => k)).toEqual(['h', 'old'])
    await adapter.commit('t', { put: [...puts, ['h', utf8('2')]], del: ['old'] }, { key: 'h', expect: utf8('1') })
    const stored = await dump(adapter, 't')
    expect(stored).toHaveLength(2501)
    expect(stored.map(([k]) => k)).toEqual(['h', ...puts.map(([k]) => k)])
    expect((await adapter.get('t', ['k/2499', 'old'])).map((v) => v && new TextDecoder().decode(v))).toEqual(['v2499', undefined])
  })
})

describe('postgres adapter: concurrent writers', () => {
  it('two pools racing commits guarded on one head, or on an absent key, give exactly one winner each time', async () => {
    const pools = [newPool(), newPool()]
    const [a, b] = pools.map((p) => createPostgresAdapter(p, { table: 'race' })) as [StorageAdapter, StorageAdapter]
    try {
      await a.commit('head', { put: [['h', utf8('0')]] })
      for (let round = 1; round <= 20; round++) {
        for (const [thread, expectHead] of [['head', utf8(String(round - 1))], [`fresh-${round}`, undefined]] as const) {
          const next = utf8(String(round))
          const results = await Promise.allSettled([a, b].map((adapter, i) => adapter.commit(thread, { put: [['h', next], [`by/${round}/${i}`, utf8('x')]] }, { key: 'h', expect: expectHead })))
          const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []))
          expect(won, `${thread}, round ${round}`).toHaveLength(1)
          await rejectsWith(Promise.reject((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason), 'CONFLICT')
          expect((await dump(a, thread)).filter(([k]) => k.startsWith(`by/${round}/`)).map(([k]) => k)).toEqual([`by/${round}/${won[0]}`])
        }
      }
    } finally {
      await Promise.all(pools.map((p) => p.end()))
    }
  })

  /**
   * Holds `thread`'s commit lock (its key as adapters/postgres.ts derives it) while `start` begins two commits, lets
   * them go once both wait on it, and checks that exactly one lands and the other fails with CONFLICT. Returns the
   * index of the one that landed.
   */
  async function oneWinsWhileHeld(holder: Awaited<ReturnType<typeof session>>, thread: string, start: () => Promise<void>[]): Promise<number> {
    await holder.client.query('SELECT pg_advisory_lock(hashtextextended($1::text, 0))', [`edgegraph/public.race/commit/${thread}`])
    const commits = start()
    for (const c of commits) c.catch(() => {})
    await until(async () => (await blockedBy(holder.pid)).length === 2)
    await holder.client.query('SELECT pg_advisory_unlock_all()')
    const results = await Promise.allSettled(commits)
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    await rejectsWith(Promise.reject((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason), 'CONFLICT')
    return results.findIndex((r) => r.status === 'fulfilled')
  }

  it('both commits in flight at once on an absent guard key: the one that waits finds the key written, and loses', async () => {
    const pools = [newPool(), newPool()]
    const adapters = pools.map((p) => createPostgresAdapter(p, { table: 'race' }))
    const holder = await session()
    try {
      await oneWinsWhileHeld(holder, 'both', () => adapters.map((adapter, i) => adapter.commit('both', { put: [['h', utf8(`by ${i}`)]] }, { key: 'h', expect: undefined })))
      expect(await dump(adapters[0] as StorageAdapter, 'both')).toHaveLength(1)
    } finally {
      holder.done()
      await Promise.all(pools.map((p) => p.end()))
    }
  })

  it('both commits in flight at once on one head: the one that waits finds the head moved (its snapshot older than that), and loses', async () => {
    const pools = [newPool(), newPool()]
    const adapters = pools.map((p) => createPostgresAdapter(p, { table: 'race' }))
    const holder = await session()
    try {
      await (adapters[0] as StorageAdapter).commit('both-set', { put: [['h', utf8('0')]] })
      // Both statements begin (and take their snapshots) while the thread's commit lock is held, so they see the same head.
      const won = await oneWinsWhileHeld(holder, 'both-set', () => adapters.map((adapter, i) => adapter.commit('both-set', { put: [['h', utf8(`by ${i}`)], [`c/${i}`, utf8('x')]] }, { key: 'h', expect: utf8('0') })))
      expect((await dump(adapters[0] as StorageAdapter, 'both-set')).map(([k]) => k)).toEqual([`c/${won}`, 'h'])
      expect(await (adapters[0] as StorageAdapter).get('both-set', ['h'])).toEqual([utf8(`by ${won}`)])
    } finally {
      holder.done()
      await Promise.all(pools.map((p) => p.end()))
    }
  })

  it('a deleteThread and a commit in flight at once: whichever goes second sees all of the first, and nothing of the thread is left behind', async () => {
    const pools = [newPool(), newPool()]
    const [a, b] = pools.map((p) => createPostgresAdapter(p, { table: 'race' })) as [StorageAdapter, StorageAdapter]
    const holder = await session()
    try {
      for (let round = 0; round < 2; round++) {
        const thread = `del-${round}`
        await a.commit(thread, { put: [['h', utf8('0')], ['c/0', utf8('x')]] })
        await holder.client.query('SELECT pg_advisory_lock(hashtextextended($1::text, 0))', [`edgegraph/public.race/commit/${thread}`])
        // Round 0 starts the commit first, round 1 the delete: the lock is granted in the order they asked for it.
        const commit = () => a.commit(thread, { put: [['h', utf8('1')], ['c/1', utf8('y')]] }, { key: 'h', expect: utf8('0') })
        const first = round === 0 ? commit() : b.deleteThread(thread)
        first.catch(() => {})
        await until(async () => (await blockedBy(holder.pid)).length === 1)
        const second = round === 0 ? b.deleteThread(thread) : commit()
        second.catch(() => {})
        await until(async () => (await blockedBy(holder.pid)).length === 2)
        await holder.client.query('SELECT pg_advisory_unlock_all()')
        const results = await Promise.allSettled([first, second])
        if (round === 0) expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled'])
        else await rejectsWith(Promise.reject((results[1] as PromiseRejectedResult).reason), 'CONFLICT')
        expect(await dump(a, thread)).toEqual([])
        expect((await collect(a.threads())).map((t) => t.thread)).not.toContain(thread)
      }
    } finally {
      holder.done()
      await Promise.all(pools.map((p) => p.end()))
    }
  })

  it('a connection cut mid-commit (its backend terminated while it waits on a row lock) is a typed error saying the outcome is unknown, and nothing is half-written', async () => {
    const adapter = createPostgresAdapter(pool, { table: 'cut' })
    await adapter.commit('t', { put: [['a', utf8('A')], ['b', utf8('B')], ['h', utf8('1')]] })
    const before = { t: await dump(adapter, 't'), threads: await collect(adapter.threads()) }
    const holder = await session()
    try {
      // The commit's write statement also stamps the thread's row: holding that row, the commit waits inside its transaction.
      await holder.client.query('BEGIN')
      await holder.client.query("SELECT * FROM cut_threads WHERE thread = 't' FOR UPDATE")
      const commit = adapter.commit('t', { put: [['c', utf8('C')], ['b', utf8('B2')], ['h', utf8('2')]], del: ['a'] }, { key: 'h', expect: utf8('1') })
      commit.catch(() => {})
      await until(async () => (await blockedBy(holder.pid)).length === 1)
      const [victim] = await blockedBy(holder.pid)
      await pool.query('SELECT pg_terminate_backend($1::int)', [victim])
      // The commit is one call (one round trip): cut off after it was sent, its outcome cannot be known from here.
      const err = await rejectsWith(commit, 'STORAGE_FAILED')
      expect(err.message).toMatch(/thread "t": commit failed: (terminating connection due to administrator command \(57P01\)|Connection terminated unexpectedly).*may or may not have landed/)
      await holder.client.query('ROLLBACK')
      expect({ t: await dump(adapter, 't'), threads: await collect(adapter.threads()) }).toEqual(before)
      // The pool replaced the dead connection: the same commit goes through now.
      await adapter.commit('t', { put: [['h', utf8('2')]], del: ['a'] }, { key: 'h', expect: utf8('1') })
      expect((await dump(adapter, 't')).map(([k]) => k)).toEqual(['b', 'h'])
    } finally {
      holder.done()
    }
  })

  it('a connection cut after COMMIT was sent says the write may or may not have landed', async () => {
    const adapter = createPostgresAdapter(pool, { table: 'late' })
    await adapter.commit('t', { put: [['h', utf8('1')]] })
    // A deferred trigger runs inside COMMIT; it waits for a lock the test holds, so COMMIT is in flight when the cut comes.
    await pool.query(`CREATE FUNCTION late_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NULL; END $$`)
    await pool.query('CREATE CONSTRAINT TRIGGER late_commit AFTER INSERT OR UPDATE ON late_kv DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION late_commit()')
    const before = await dump(adapter, 't')
    const holder = await session()
    try {
      await holder.client.query('SELECT pg_advisory_lock(4242)')
      const commit = adapter.commit('t', { put: [['h', utf8('2')], ['c', utf8('C')]] }, { key: 'h', expect: utf8('1') })
      commit.catch(() => {})
      await until(async () => (await blockedBy(holder.pid)).length === 1)
      await pool.query('SELECT pg_terminate_backend($1::int)', [(await blockedBy(holder.pid))[0]])
      const err = await rejectsWith(commit, 'STORAGE_FAILED')
      expect(err.message).toMatch(/after the commit was sent, so the write may or may not have landed: read the thread \(getState\) before repeating an input/)
      // Here it did not land (the server was still inside COMMIT): reading the thread shows which.
      expect(await dump(adapter, 't')).toEqual(before)
    } finally {
      holder.done()
    }
  })
})

describe('postgres adapter: thread locks across pools and processes', () => {
  /** START → work → END, where work waits on `hold` (when given). */
  const workGraph = (adapter: StorageAdapter, hold?: () => Promise<void>) =>
    new StateGraph({ log: appendList })
      .addNode('work', async (s) => {
        await hold?.()
        return { log: [`work ${s.log.length}`] }
      })
      .addEdge(START, 'work')
      .addEdge('work', END)
      .compile({ checkpointer: adapter })

  it("a run on another pool gets THREAD_BUSY with ifBusy: 'fail', and with 'wait' runs after the first, on its head", async () => {
    const pools = [newPool(), newPool()]
    const [a, b] = pools.map((p) => createPostgresAdapter(p, { table: 'locks' })) as [StorageAdapter, StorageAdapter]
    try {
      const held = gate()
      const first = workGraph(a, held.wait).invoke({ log: ['first'] }, { threadId: 'busy' })
      await held.reached
      await rejectsWith(workGraph(b).invoke({ log: ['second'] }, { threadId: 'busy', ifBusy: 'fail' }), 'THREAD_BUSY')
      // Other threads are free.
      expect(await workGraph(b).invoke({ log: ['x'] }, { threadId: 'other', ifBusy: 'fail' })).toEqual({ log: ['x', 'work 1'] })
      const second = workGraph(b).invoke({ log: ['second'] }, { threadId: 'busy' })
      await until(async () => (await waitingLocks()) === 1)
      held.open()
      expect(await first).toEqual({ log: ['first', 'work 1'] })
      expect(await second).toEqual({ log: ['first', 'work 1', 'second', 'work 3'] })
    } finally {
      await Promise.all(pools.map((p) => p.end()))
    }
  })

  it('lockThread: wait queues behind the holder, wait: false is THREAD_BUSY, an abort while waiting is ABORTED and leaves the queue', async () => {
    const pools = [newPool(), newPool()]
    const [a, b] = pools.map((p) => createPostgresAdapter(p, { table: 'locks' }))
    if (!a?.lockThread || !b) throw new Error('unreachable')
    try {
      const held = gate()
      const order: string[] = []
      const first = a.lockThread('t', async () => {
        order.push('a start')
        await held.wait()
        order.push('a end')
        return 'a'
      }, { wait: true })
      await held.reached
      const busy = await rejectsWith(b.lockThread('t', async () => 'never', { wait: false }), 'THREAD_BUSY')
      expect(busy.message).toContain('thread "t"')
      const controller = new AbortController()
      const abandoned = b.lockThread('t', async () => 'never', { wait: true, signal: controller.signal })
      await until(async () => (await waitingLocks()) === 1)
      controller.abort()
      await rejectsWith(abandoned, 'ABORTED')
      await until(async () => (await waitingLocks()) === 0)
      const second = b.lockThread('t', async () => {
        order.push('b')
        return 'b'
      }, { wait: true })
      await until(async () => (await waitingLocks()) === 1)
      expect(order).toEqual(['a start'])
      held.open()
      expect(await Promise.all([first, second])).toEqual(['a', 'b'])
      expect(order).toEqual(['a start', 'a end', 'b'])
      // Released: anyone can take it now, and an error in fn releases it too.
      await expect(b.lockThread('t', async () => Promise.reject(new Error('fn failed')), { wait: false })).rejects.toThrow('fn failed')
      expect(await a.lockThread('t', async () => 'free', { wait: false })).toBe('free')
    } finally {
      await Promise.all(pools.map((p) => p.end()))
    }
  })

  it("the lock goes with its connection: when the holder's backend is terminated, another pool takes the thread", async () => {
    const pools = [newPool(), newPool()]
    const [a, b] = pools.map((p) => createPostgresAdapter(p, { table: 'locks' }))
    if (!a?.lockThread || !b?.lockThread) throw new Error('unreachable')
    try {
      const held = gate()
      const first = a.lockThread('dies', async () => {
        await held.wait()
        return 'a finished'
      }, { wait: true })
      await held.reached
      await rejectsWith(b.lockThread('dies', async () => 'never', { wait: false }), 'THREAD_BUSY')
      const { pid } = await one<{ pid: number }>("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted")
      await pool.query('SELECT pg_terminate_backend($1::int)', [pid])
      expect(await b.lockThread('dies', async () => 'b ran', { wait: true })).toBe('b ran')
      // The first holder's fn still ends normally; its dead connection is dropped, not handed out again.
      held.open()
      expect(await first).toBe('a finished')
      expect(await a.lockThread('dies', async () => 'a again', { wait: false })).toBe('a again')
    } finally {
      await Promise.all(pools.map((p) => p.end()))
    }
  })

  it('a process killed with SIGKILL while it holds a thread leaves it free: its session ends, and the lock with it', async () => {
    const adapterUrl = new URL('../adapters/postgres.ts', import.meta.url).href
    const code = `
      const pg = (await import('pg')).default
      const { createPostgresAdapter } = await import(${JSON.stringify(adapterUrl)})
      const pool = new pg.Pool({ connectionString: ${JSON.stringify(server.url)} })
      pool.on('error', () => {})
      await createPostgresAdapter(pool, { table: 'locks' }).lockThread('killed', () => { console.log('locked'); return new Promise(() => {}) }, { wait: true })`
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const exited = new Promise((resolve) => child.once('exit', resolve))
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => (output += d.toString()).includes('locked') && resolve())
      child.stderr.on('data', (d: Buffer) => (output += d.toString()))
      child.once('exit', (c) => reject(new Error(`the lock-holding process exited (${c}) before it held the lock:\n${output}`)))
    })
    const b = createPostgresAdapter(pool, { table: 'locks' })
    await rejectsWith(b.lockThread('killed', async () => 'never', { wait: false }), 'THREAD_BUSY')
    const waiting = b.lockThread('killed', async () => 'b ran', { wait: true })
    child.kill('SIGKILL')
    await exited
    expect(await waiting).toBe('b ran')
  }, 30_000)
})

describe('postgres adapter: kill -9 of the server mid-run', () => {
  it('the run fails with a typed error; after a restart a fresh graph resumes with invoke(null) and every step is stored once', async () => {
    /** START → step (loops until count is 6); `hold` stops the step that starts at count 3. */
    const graph = (adapter: StorageAdapter, hold?: () => Promise<void>) =>
      new StateGraph({ count: { default: () => 0 }, log: appendList })
        .addNode('step', async (s) => {
          if (s.count === 3) await hold?.()
          return { count: s.count + 1, log: [`step ${s.count}`] }
        })
        .addEdge(START, 'step')
        .addConditionalEdges('step', (s) => (s.count >= 6 ? END : 'step'))
        .compile({ checkpointer: adapter })
    const shape = async (adapter: StorageAdapter, threadId: string) =>
      (await collect(graph(adapter).getStateHistory({ threadId }))).map((s) => ({ step: s.metadata.step, source: s.metadata.source, values: s.values, next: s.next })).reverse()

    const before = newPool()
    const adapter = createPostgresAdapter(before, { table: 'killed' })
    const reference = await graph(adapter).invoke({ count: 0, log: [] }, { threadId: 'reference' })
    const held = gate()
    const running = graph(adapter, held.wait).invoke({ count: 0, log: [] }, { threadId: 'run' })
    running.catch(() => {})
    await held.reached
    await server.kill()
    held.open()
    const err = await running.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isEdgegraphError(err) && ['STORAGE_UNAVAILABLE', 'STORAGE_FAILED'].includes(err.code), String(err)).toBe(true)
    expect((err as Error).message).toContain('postgres adapter (tables public.killed_*), thread "run"')
    await server.start()
    await before.end()

    // A fresh process: new pool, new adapter, new graph.
    const after = newPool()
    try {
      const fresh = createPostgresAdapter(after, { table: 'killed' })
      const state = await graph(fresh).getState({ threadId: 'run' })
      expect(state.values).toEqual({ count: 3, log: ['step 0', 'step 1', 'step 2'] })
      expect(state.next).toEqual(['step'])
      expect(await graph(fresh).invoke(null, { threadId: 'run' })).toEqual(reference)
      const history = await shape(fresh, 'run')
      expect(history).toEqual(await shape(fresh, 'reference'))
      const steps = history.map((h) => h.step)
      expect(new Set(steps).size).toBe(steps.length)
    } finally {
      await after.end()
    }
  }, 60_000)
})
