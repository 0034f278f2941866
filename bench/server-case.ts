/**
 * One server-store measurement in this process (bench/servers.ts spawns one per case):
 *   --backend sqlite|postgres|redis --engine edgegraph|langgraph|bridge|floor --workload counter|chat --n N --url URL
 * edgegraph = an edgegraph graph on the backend's adapter; langgraph = LangGraph.js with the backend's own saver
 * (@langchain/langgraph-checkpoint-sqlite / -postgres); bridge = LangGraph.js with EdgegraphSaver over the adapter;
 * floor = N bare single-row transactions on the same server. `--durability sync|async` sets edgegraph's (default sync).
 * The mean is the whole invoke over N (with async, the commits still queued at the end included); p50/p99 are the
 * gaps between node calls. An edgegraph case also times the floor beside its run (half its n before, half after, on the
 * same server in the same process), so its ratio to the floor does not depend on how busy the machine was when the
 * floor's own case ran. Prints one JSON line.
 */
import { parseArgs } from 'node:util'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { createClient } from 'redis'
import { Annotation, END, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph'
import type { BaseCheckpointSaver } from '@langchain/langgraph-checkpoint'
import type { StorageAdapter } from '../src/index.js'
import { createSqliteAdapter } from '../adapters/sqlite.js'
import { createPostgresAdapter } from '../adapters/postgres.js'
import { createRedisAdapter } from '../adapters/redis.js'
import { EdgegraphSaver } from '../src/langgraph.js'
import { benchGraph } from './engines/edgegraph.js'
import { langgraphGraphs } from './engines/langgraph-graphs.js'
import { median, percentile, round } from './common.js'
import { touchMemory } from './memory.js'
import { checkFinal, inputOf, makeMessages, payloadBytes, type Workload } from './workloads.js'

const WARMUP_STEPS = 200
const { values } = parseArgs({ options: { backend: { type: 'string' }, engine: { type: 'string' }, workload: { type: 'string' }, n: { type: 'string' }, url: { type: 'string' }, durability: { type: 'string' } } })
const backend = values.backend as 'sqlite' | 'postgres' | 'redis'
const engine = values.engine as 'edgegraph' | 'langgraph' | 'bridge' | 'floor'
const workload = values.workload as Workload
const n = Number(values.n)
const url = values.url ?? ''
const tag = `b${process.pid}`
/** edgegraph's durability for the run: `sync` (its default: each step waits for its commit) or `async` (LangGraph.js's default). */
const durability = (values.durability ?? 'sync') as 'sync' | 'async'
if (durability !== 'sync' && durability !== 'async') throw new Error(`--durability must be sync or async, got ${durability}`)

/** The backend's connection and an adapter on it, with a way to count what it stores and to close it. */
type Redis = { sendCommand(args: string[]): Promise<unknown> }

/**
 * Brings a new SQLite file's write-ahead log to where a database in use has it. Until its first checkpoint (1000 pages)
 * the log is a new file that every commit makes longer, and an fsync that also records a longer file costs about half
 * again on these machines (a bare transaction 130-150 µs, against 95-100 once the log is reused from its start, which it
 * is from then on). Every SQLite file here (each case's and the floor's) first commits 1,100 one-page rows, one
 * transaction each, and drops them, so every engine and the floor are timed on a log in steady state: without it the
 * floor's own case (1,200 transactions) was timed mostly on a growing log and edgegraph's runs mostly past it.
 */
function settleWal(db: Database.Database): void {
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE settle_wal (k INTEGER PRIMARY KEY, v BLOB)')
  const put = db.prepare('INSERT INTO settle_wal (v) VALUES (?)')
  const row = Buffer.alloc(3000)
  for (let i = 0; i < 1100; i++) put.run(row)
  db.exec('DROP TABLE settle_wal')
}

async function open(): Promise<{ adapter: () => StorageAdapter; sqlite?: Database.Database; dir?: string; pool?: pg.Pool; redis?: Redis; close: () => Promise<void> }> {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'edgegraph-bench-sqlite-'))
    const db = new Database(join(dir, 'bench.db'))
    settleWal(db)
    return { sqlite: db, dir, adapter: () => createSqliteAdapter(db, { table: tag }), close: async () => (db.close(), rmSync(dir, { recursive: true, force: true })) }
  }
  if (backend === 'postgres') {
    const pool = new pg.Pool({ connectionString: url, max: 4 })
    pool.on('error', () => {})
    return { pool, adapter: () => createPostgresAdapter(pool, { schema: tag }), close: () => pool.end() }
  }
  const redis = createClient({ url })
  redis.on('error', () => {})
  await redis.connect()
  return { redis: redis as unknown as Redis, adapter: () => createRedisAdapter(redis as never, { prefix: `${tag}:` }), close: async () => void (await redis.quit()) }
}

/** Keys plus values an adapter holds, over every thread. */
async function adapterBytes(adapter: StorageAdapter): Promise<number> {
  let bytes = 0
  for await (const { thread } of adapter.threads()) for await (const [key, value] of adapter.scan(thread)) bytes += key.length + value.length
  return bytes
}

async function langgraphSaver(conn: Awaited<ReturnType<typeof open>>): Promise<{ saver: BaseCheckpointSaver; bytes: () => Promise<number> }> {
  if (backend === 'sqlite') {
    const { SqliteSaver } = await import('@langchain/langgraph-checkpoint-sqlite')
    const db = conn.sqlite as Database.Database
    const saver = new SqliteSaver(db)
    const bytes = async () => {
      const c = db.prepare('SELECT coalesce(sum(length(checkpoint) + length(metadata)), 0) AS n FROM checkpoints').get() as { n: number }
      const w = db.prepare('SELECT coalesce(sum(length(value)), 0) AS n FROM writes').get() as { n: number }
      return c.n + w.n
    }
    return { saver, bytes }
  }
  if (backend === 'postgres') {
    const { PostgresSaver } = await import('@langchain/langgraph-checkpoint-postgres')
    const pool = conn.pool as pg.Pool
    const saver = new PostgresSaver(pool, undefined, { schema: `lg_${tag}` })
    await saver.setup()
    const bytes = async () => {
      const q = async (sql: string) => Number((await pool.query(sql)).rows[0].n)
      const s = `lg_${tag}`
      return (
        (await q(`SELECT coalesce(sum(octet_length(checkpoint::text) + octet_length(metadata::text)), 0) AS n FROM ${s}.checkpoints`)) +
        (await q(`SELECT coalesce(sum(octet_length(blob)), 0) AS n FROM ${s}.checkpoint_blobs`)) +
        (await q(`SELECT coalesce(sum(octet_length(blob)), 0) AS n FROM ${s}.checkpoint_writes`))
      )
    }
    return { saver, bytes }
  }
  throw new Error('no LangGraph.js saver measured for redis (see bench/servers.ts)')
}

/**
 * The floor: bare single-row transactions on the same server, a new row each time. `run(count)` times `count` more of
 * them (µs each); the keys go on where the last call stopped. SQLite: its own file in the case's folder.
 */
async function floor(conn: Awaited<ReturnType<typeof open>>): Promise<{ run: (count: number) => Promise<number[]>; close: () => Promise<void> }> {
  const value = 'x'.repeat(100)
  // A new row each time, as each step's checkpoint is: rewriting a handful of rows is a case stores make cheaper than
  // an append (SQLite here: 5 µs against 90 µs), and no checkpoint store can work that way.
  let next = 0
  const key = () => `k${String(next++).padStart(8, '0')}`
  const timed = async (count: number, one: () => unknown) => {
    const gaps: number[] = []
    for (let i = 0; i < count; i++) {
      const t0 = performance.now()
      await one()
      gaps.push((performance.now() - t0) * 1000)
    }
    return gaps
  }
  if (backend === 'sqlite') {
    const db = new Database(join(conn.dir as string, 'floor.db'))
    settleWal(db)
    db.exec('CREATE TABLE floor (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID')
    const put = db.prepare('INSERT INTO floor (k, v) VALUES (?, ?)')
    const tx = db.transaction(() => put.run(key(), value))
    return { run: (count) => timed(count, tx), close: async () => void db.close() }
  }
  if (backend === 'postgres') {
    const pool = conn.pool as pg.Pool
    await pool.query(`CREATE TABLE floor_${tag} (k text PRIMARY KEY, v text)`)
    const client = await pool.connect()
    const one = async () => {
      await client.query('BEGIN')
      await client.query(`INSERT INTO floor_${tag} (k, v) VALUES ($1, $2)`, [key(), value])
      await client.query('COMMIT')
    }
    return { run: (count) => timed(count, one), close: async () => client.release() }
  }
  const redis = conn.redis as Redis
  const one = () => redis.sendCommand(['EVAL', "return redis.call('SET', KEYS[1], ARGV[1])", '1', `${tag}:floor:${key()}`, value])
  return { run: (count) => timed(count, one), close: async () => {} }
}

const conn = await open()
const messages = makeMessages(Math.max(n, WARMUP_STEPS))
touchMemory()
const stamps: number[] = []
let bytesStored = 0
let gaps: number[]
/** The whole invoke (the floor: its n transactions), so the mean includes what waits at the end (async commits). */
let invokeMs = 0
let commitMs = 0
let commits = 0
/** The floor timed beside an edgegraph run (half before it, half after). */
let floorGaps: number[] = []
const t0 = performance.now()
if (engine === 'floor') {
  const bare = await floor(conn)
  await bare.run(WARMUP_STEPS)
  gaps = await bare.run(n)
  await bare.close()
  invokeMs = gaps.reduce((a, b) => a + b, 0) / 1000
} else if (engine === 'edgegraph') {
  const inner = conn.adapter()
  // Time spent in the store's commits (with 'async' they overlap the steps, so they are not a part of the step time).
  const adapter: StorageAdapter = { ...inner, name: inner.name, limits: inner.limits, get: (t, k) => inner.get(t, k), scan: (t, r) => inner.scan(t, r), threads: (o) => inner.threads(o), deleteThread: (t) => inner.deleteThread(t),
    async commit(t, b, g) {
      const c0 = performance.now()
      try {
        return await inner.commit(t, b, g)
      } finally {
        commitMs += performance.now() - c0
        commits++
      }
    },
  }
  checkFinal(workload, WARMUP_STEPS, messages, await benchGraph(workload, WARMUP_STEPS, adapter, (i) => messages[i] as string).invoke(inputOf(workload, messages), { threadId: 'warmup', recursionLimit: WARMUP_STEPS + 10, durability }), 'warm-up')
  await adapter.deleteThread('warmup')
  const bare = await floor(conn)
  await bare.run(WARMUP_STEPS)
  floorGaps = await bare.run(Math.ceil(n / 2))
  commitMs = 0
  commits = 0
  const r0 = performance.now()
  const final = await benchGraph(workload, n, adapter, (i) => messages[i] as string, () => stamps.push(performance.now())).invoke(inputOf(workload, messages), { threadId: 'bench', recursionLimit: n + 10, durability })
  invokeMs = performance.now() - r0
  floorGaps.push(...(await bare.run(Math.floor(n / 2))))
  await bare.close()
  checkFinal(workload, n, messages, final, 'edgegraph')
  bytesStored = await adapterBytes(adapter)
  gaps = stamps.slice(1).map((t, i) => (t - (stamps[i] as number)) * 1000)
} else {
  const graph = langgraphGraphs({ Annotation, StateGraph, START, END, MessagesAnnotation } as never)
  const { saver, bytes } = engine === 'bridge' ? { saver: new EdgegraphSaver(conn.adapter()), bytes: undefined } : await langgraphSaver(conn)
  const warm = graph(workload, WARMUP_STEPS, saver as never, messages, () => {})
  await warm.invoke(inputOf(workload, messages), { configurable: { thread_id: 'warmup' }, recursionLimit: WARMUP_STEPS + 10 })
  await saver.deleteThread('warmup')
  const g = graph(workload, n, saver as never, messages, () => stamps.push(performance.now()))
  const r0 = performance.now()
  const final = (await g.invoke(inputOf(workload, messages), { configurable: { thread_id: 'bench' }, recursionLimit: n + 10 })) as Record<string, unknown>
  invokeMs = performance.now() - r0
  checkFinal(workload, n, messages, final, engine)
  bytesStored = bytes ? await bytes() : await adapterBytes(conn.adapter())
  gaps = stamps.slice(1).map((t, i) => (t - (stamps[i] as number)) * 1000)
}
const runMs = performance.now() - t0
await conn.close()
process.stdout.write(
  `${JSON.stringify({
    backend,
    engine,
    ...(engine === 'edgegraph' ? { durability } : {}),
    workload,
    n,
    // Mean: the whole invoke over n (what a user waits for); p50 and p99: gaps between node calls.
    usPerStepMean: round((invokeMs * 1000) / n),
    ...(engine === 'edgegraph' ? { commitUsPerStep: round((commitMs * 1000) / n), commits, floorUsMean: round(floorGaps.reduce((a, b) => a + b, 0) / floorGaps.length), floorUsP50: round(median(floorGaps)) } : {}),
    usPerStep: round(median(gaps)),
    usPerStepP99: round(percentile(gaps, 0.99)),
    bytesStored,
    payloadBytes: payloadBytes(workload, n),
    runMs: round(runMs),
  })}\n`,
)
