/**
 * Server stores, side by side in one run (`npm run bench:servers`, also the last part of `npm run bench`): throwaway
 * PostgreSQL and Redis servers on 127.0.0.1 and a SQLite file, each case in a fresh process (bench/server-case.ts), three
 * times round the list of cases (`BENCH_SERVER_REPS`; once with --quick), each figure the median of the three:
 * - the servers keep their durable defaults: PostgreSQL with fsync on (the tests turn it off), Redis with
 *   appendfsync always, SQLite in WAL with synchronous FULL;
 * - the floor: one bare single-row transaction on the same server, a new row each time (SQLite: one INSERT in a
 *   transaction; PostgreSQL: BEGIN, one INSERT, COMMIT; Redis: one EVAL that SETs a new key);
 * - edgegraph on its adapter (durability sync, its default, and async, LangGraph.js's default), LangGraph.js on the
 *   backend's own saver, LangGraph.js on EdgegraphSaver (the bridge): counter N=1000 and chat N=2000 (500-byte
 *   messages): mean µs per step (the whole invoke over N), p50 and p99 of the gaps between steps, stored bytes;
 * - the multi-process runner on PostgreSQL: threads completed per second with 1, 2 and 4 processes.
 * Each edgegraph case also times the floor beside its run, in its own process ("x floor beside"): timings here drift by
 * half between minutes, and a ratio to a floor timed minutes earlier drifts with them.
 * Prints the tables and writes bench/results/servers.json (servers.quick.tmp.json with --quick). `--only edgegraph,floor`
 * runs those engines only (floor, edgegraph, langgraph, bridge, runner) and writes servers.only.tmp.json.
 * `--readme` prints the README's table from bench/results/servers.json without running anything.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { createPostgresAdapter } from '../adapters/postgres.js'
import { createRunner } from '../src/runner.js'
import { startPostgres, startRedis } from '../test/servers/index.js'
import { compiled } from './compiled.js'
import { median, round } from './common.js'
import { WARM_MEMORY_FLAGS } from './memory.js'
import { workerGraph } from '../test/runner/graph.js'

// `--readme`: print the README's table from the last full run's JSON, without running anything.
if (process.argv.includes('--readme')) {
  console.log(readmeTable(JSON.parse(readFileSync(new URL('results/servers.json', import.meta.url), 'utf8')) as ServersRecord))
  process.exit(0)
}

const quick = process.argv.includes('--quick') || process.env['BENCH_QUICK'] === '1'
const onlyArg = process.argv.indexOf('--only')
const only = onlyArg < 0 ? undefined : new Set((process.argv[onlyArg + 1] ?? '').split(','))
const runs = (engine: string) => only === undefined || only.has(engine)
const root = fileURLToPath(new URL('..', import.meta.url))
const caseFile = await compiled(new URL('server-case.ts', import.meta.url))
const childFile = await compiled(new URL('../test/runner/child.ts', import.meta.url))
const N = { counter: quick ? 200 : 1000, chat: quick ? 300 : 2000 }
/** Fresh processes per case (`BENCH_SERVER_REPS`); each figure in the table is their median. */
const REPS = quick ? 1 : Number(process.env['BENCH_SERVER_REPS'] ?? 3)
const RUNNER_THREADS = quick ? 40 : 120

interface Row {
  backend: string
  engine: string
  durability?: string
  commitUsPerStep?: number
  commits?: number
  /** The floor timed beside this case's run, in its process (edgegraph cases). */
  floorUsMean?: number
  floorUsP50?: number
  workload: string
  n: number
  usPerStepMean?: number
  usPerStep?: number
  usPerStepP99?: number
  bytesStored?: number
  payloadBytes?: number
  runMs?: number
  error?: string
  /** How many fresh processes the figures are the median of. */
  reps?: number
  /** The median over the repetitions of mean us/step over the floor beside (edgegraph cases). */
  xFloorBeside?: number
  /** Each repetition's mean and floor beside. */
  samples?: { usPerStepMean: number | undefined; floorUsMean: number | undefined }[]
}

/** A case's row from its repetitions: the median of each figure, and of each one's ratio to its floor beside. A failed repetition fails the case. */
function combine(samples: Row[]): Row {
  const failed = samples.find((r) => r.error)
  if (failed) return failed
  const row: Row = { ...(samples[0] as Row), reps: samples.length }
  const med = (figure: (r: Row) => number | undefined, digits = 1) => {
    const xs = samples.map(figure).filter((x): x is number => x !== undefined)
    return xs.length === 0 ? undefined : round(median(xs), digits)
  }
  for (const key of ['usPerStepMean', 'usPerStep', 'usPerStepP99', 'floorUsMean', 'floorUsP50', 'commitUsPerStep', 'commits', 'bytesStored', 'runMs'] as const) {
    const value = med((r) => r[key])
    if (value !== undefined) row[key] = value
  }
  const beside = med((r) => (r.usPerStepMean && r.floorUsMean ? r.usPerStepMean / r.floorUsMean : undefined), 2)
  if (beside !== undefined) row.xFloorBeside = beside
  row.samples = samples.map((r) => ({ usPerStepMean: r.usPerStepMean, floorUsMean: r.floorUsMean }))
  return row
}

interface ServersRecord {
  date: string
  node: string
  reps?: number
  rows: Row[]
  runner: { processes: number; threadsPerSecond: number }[]
}

/** The README's table (`npx tsx bench/servers.ts --readme`): one line per backend and workload, µs per step. */
function readmeTable(record: ServersRecord): string {
  const find = (backend: string, engine: string, workload: string, durability?: string) =>
    record.rows.find((r) => r.backend === backend && r.engine === engine && (engine === 'floor' || r.workload === workload) && (durability === undefined || r.durability === durability))
  const us = (x: number | undefined) => (x === undefined ? '–' : x >= 100 ? String(Math.round(x)) : x.toFixed(1))
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || !b ? '–' : `${(a / b).toFixed(2)}×`)
  const stored = (r: Row | undefined, workload: string) =>
    r?.bytesStored === undefined ? '–' : workload === 'chat' && r.payloadBytes ? `${(r.bytesStored / r.payloadBytes).toFixed(r.bytesStored / r.payloadBytes >= 100 ? 0 : 2)}×` : `${Math.round(r.bytesStored / 1024)} KB`
  const lines = [
    `<!-- bench:servers ${record.date}, node ${record.node}, ${record.reps ? `median of ${record.reps} fresh processes` : 'one fresh process'} per case; printed by \`npx tsx bench/servers.ts --readme\` -->`,
    '| backend | workload | floor mean | edgegraph sync mean (p50 / p99) | x floor | x floor beside | edgegraph async mean (commits) | x floor | LangGraph.js saver mean | bridge mean | stored edgegraph / saver / bridge |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  const names: Record<string, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL', redis: 'Redis' }
  for (const backend of ['sqlite', 'postgres', 'redis']) {
    for (const workload of ['counter', 'chat']) {
      const floor = find(backend, 'floor', workload)
      const sync = find(backend, 'edgegraph', workload, 'sync')
      const async = find(backend, 'edgegraph', workload, 'async')
      const saver = find(backend, 'langgraph', workload)
      const bridge = find(backend, 'bridge', workload)
      lines.push(
        `| ${workload === 'counter' ? names[backend] : ''} | ${workload} ${sync?.n ?? ''} | ${workload === 'counter' ? us(floor?.usPerStepMean) : ''} | ${us(sync?.usPerStepMean)} (${us(sync?.usPerStep)} / ${us(sync?.usPerStepP99)}) | ${ratio(sync?.usPerStepMean, floor?.usPerStepMean)} | ${sync?.xFloorBeside !== undefined ? `${sync.xFloorBeside.toFixed(2)}×` : ratio(sync?.usPerStepMean, sync?.floorUsMean)} | ${us(async?.usPerStepMean)} (${async?.commits ?? '–'}) | ${ratio(async?.usPerStepMean, floor?.usPerStepMean)} | ${us(saver?.usPerStepMean)} | ${us(bridge?.usPerStepMean)} | ${[sync, saver, bridge].map((r) => stored(r, workload)).join(' / ')}${workload === 'chat' ? ' raw' : ''} |`,
      )
    }
  }
  return lines.join('\n')
}

function runCase(args: Record<string, string>, timeoutMs: number): Promise<Row> {
  return new Promise((resolve) => {
    const argv = Object.entries(args).flatMap(([k, v]) => [`--${k}`, v])
    const child = spawn(process.execPath, ['--max-old-space-size=8192', ...WARM_MEMORY_FLAGS, caseFile, ...argv], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d))
    child.stderr.on('data', (d: Buffer) => (err = (err + d).slice(-2000)))
    child.on('close', (code, signal) => {
      const line = out.trim().split('\n').pop() ?? ''
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as Row)
      else resolve({ backend: args.backend as string, engine: args.engine as string, ...(args.durability ? { durability: args.durability } : {}), workload: args.workload as string, n: Number(args.n), error: `exited ${signal ?? code}${signal ? ` (timeout ${timeoutMs / 1000} s)` : ''}: ${err.trim().split('\n').pop() ?? ''}` })
    })
  })
}

async function runnerThroughput(url: string, processes: number): Promise<{ processes: number; threads: number; seconds: number; threadsPerSecond: number }> {
  const schema = `runner_bench_${processes}`
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  pool.on('error', () => {})
  const store = createPostgresAdapter(pool, { schema })
  const queue = createRunner({ graph: workerGraph(store), queue: store })
  // Processes start (and compile) first; the clock starts when the last one is ready and the jobs are queued.
  let ready = 0
  let allReady: () => void = () => {}
  const readyAll = new Promise<void>((resolve) => (allReady = resolve))
  const exits = Array.from({ length: processes }, (_, i) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [childFile, url, `bench-${processes}-${i}`, '30000', schema, '--until-idle'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
      let err = ''
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('ready') && ++ready === processes) allReady()
      })
      child.stderr.on('data', (d: Buffer) => (err = (err + d).slice(-2000)))
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`runner process exited ${code}: ${err}`))))
    }),
  )
  await readyAll
  const t0 = performance.now()
  for (let i = 0; i < RUNNER_THREADS; i++) await queue.enqueue(`t${i}`, { log: [`in ${i}`] })
  await Promise.all(exits)
  const seconds = (performance.now() - t0) / 1000
  const jobs = await queue.jobs()
  await pool.end()
  const done = jobs.filter((j) => j.status === 'done').length
  if (done !== RUNNER_THREADS) throw new Error(`runner bench: ${done} of ${RUNNER_THREADS} threads done`)
  return { processes, threads: done, seconds: Math.round(seconds * 100) / 100, threadsPerSecond: Math.round((done / seconds) * 10) / 10 }
}

const fmt = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : x >= 100 ? Math.round(x).toString() : x.toFixed(1))
const bytes = (b: number | undefined) => (b === undefined ? '-' : b < 1024 ** 2 ? `${(b / 1024).toFixed(1)} KB` : `${(b / 1024 ** 2).toFixed(1)} MB`)

const started = Date.now()
process.stderr.write('starting PostgreSQL and Redis on 127.0.0.1...\n')
const postgres = await startPostgres({ durable: true })
const redis = await startRedis('always')
const rows: Row[] = []
let runner: Awaited<ReturnType<typeof runnerThroughput>>[] = []
try {
  const plans: Record<string, string>[] = []
  for (const backend of ['sqlite', 'postgres', 'redis']) {
    const url = backend === 'postgres' ? postgres.url : backend === 'redis' ? redis.url : ''
    plans.push({ backend, engine: 'floor', workload: 'counter', n: String(N.counter), url })
    for (const workload of ['counter', 'chat'] as const) {
      plans.push({ backend, engine: 'edgegraph', durability: 'sync', workload, n: String(N[workload]), url })
      plans.push({ backend, engine: 'edgegraph', durability: 'async', workload, n: String(N[workload]), url })
      for (const engine of backend === 'redis' ? ['bridge'] : ['langgraph', 'bridge']) plans.push({ backend, engine, workload, n: String(N[workload]), url })
    }
  }
  const chosen = plans.filter((p) => runs(p.engine as string))
  const samples: Row[][] = chosen.map(() => [])
  // Repetitions go round the whole list (every case once, then again), so the machine's drift over minutes falls on
  // every case alike.
  for (let rep = 0; rep < REPS; rep++) {
    for (const [i, plan] of chosen.entries()) {
      const t0 = Date.now()
      const row = await runCase(plan, plan.engine === 'langgraph' && plan.workload === 'chat' ? 30 * 60_000 : 10 * 60_000)
      samples[i]?.push(row)
      process.stderr.write(`[${rep * chosen.length + i + 1}/${chosen.length * REPS}] ${plan.backend} ${plan.engine}${plan.durability ? ` ${plan.durability}` : ''} ${plan.workload} n=${plan.n} ... ${row.error ? `FAILED: ${row.error}` : `${Date.now() - t0} ms`}\n`)
    }
  }
  rows.push(...samples.map(combine))
  for (const p of runs('runner') ? [1, 2, 4] : []) {
    process.stderr.write(`runner: ${RUNNER_THREADS} threads with ${p} process(es)...\n`)
    runner.push(await runnerThroughput(postgres.url, p))
  }
} finally {
  await postgres.stop()
  await redis.stop()
}

const floorOf = (backend: string) => rows.find((r) => r.backend === backend && r.engine === 'floor')
const header = ['backend', 'engine', 'workload', 'n', 'mean us/step', 'p50', 'p99', 'x floor (mean)', 'floor beside', 'x floor beside', 'p50 x floor p50', 'commit us/step', 'commits', 'stored', 'B/payload']
const lines = rows.map((r) => {
  const f = floorOf(r.backend)
  const engine = r.durability ? `${r.engine} ${r.durability}` : r.engine
  return [r.backend, engine, r.engine === 'floor' ? '1-row tx' : r.workload, String(r.n), fmt(r.usPerStepMean), fmt(r.usPerStep), fmt(r.usPerStepP99), r.engine === 'floor' || !f?.usPerStepMean || !r.usPerStepMean ? '-' : `${(r.usPerStepMean / f.usPerStepMean).toFixed(2)}x`, fmt(r.floorUsMean), r.xFloorBeside === undefined ? '-' : `${r.xFloorBeside.toFixed(2)}x`, r.floorUsP50 && r.usPerStep ? `${(r.usPerStep / r.floorUsP50).toFixed(2)}x` : '-', fmt(r.commitUsPerStep), r.commits === undefined ? '-' : String(r.commits), r.engine === 'floor' ? '-' : bytes(r.bytesStored), r.workload === 'chat' && r.bytesStored && r.payloadBytes ? `${(r.bytesStored / r.payloadBytes).toFixed(2)}x` : '-']
})
const widths = header.map((_, i) => Math.max(header[i]?.length ?? 0, ...lines.map((l) => l[i]?.length ?? 0)))
const render = (l: string[]) => l.map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')
console.log(`server stores, node ${process.version}, ${os.cpus().length} cpus, median of ${REPS} fresh process${REPS === 1 ? '' : 'es'} per case${quick ? ' (quick run)' : ''}`)
console.log(render(header))
console.log(widths.map((w) => '-'.repeat(w)).join('  '))
for (const l of lines) console.log(render(l))
for (const r of rows.filter((r) => r.error)) console.log(`FAILED ${r.backend} ${r.engine} ${r.workload}: ${r.error}`)
console.log('mean = the whole invoke over n (async: commits still queued at the end included); p50/p99 = gaps between node calls;')
console.log('floor beside = the floor\'s mean timed in the case\'s own process, half before its run and half after; x floor beside = mean us/step over it (median of the repetitions\' ratios);')
console.log('p50 x floor p50 = the p50 gap between steps over the p50 of the floor beside (less swayed by the machine\'s other work than means);')
console.log('commit us/step = time in the store\'s commits over n (with async they overlap the steps); commits = how many for the n steps.')
console.log('edgegraph = edgegraph on its adapter; langgraph = LangGraph.js (its default durability, async) on its own saver (SqliteSaver, PostgresSaver; its Redis saver')
console.log('needs Redis Stack modules, which Debian\'s redis-server lacks, so it is not run); bridge = LangGraph.js on EdgegraphSaver.')
console.log(`\nrunner on PostgreSQL: ${RUNNER_THREADS} threads of 8 steps (each step awaits 2 ms, as a model call would), 2 slots per process; clock from the first enqueue (processes already started) to the last job done, on ${os.cpus().length} cpus`)
for (const r of runner) console.log(`  ${r.processes} process(es): ${r.threadsPerSecond} threads/s (${r.seconds} s)`)
const elapsedS = Math.round((Date.now() - started) / 1000)
console.log(`\ntotal ${elapsedS} s`)
const out = fileURLToPath(new URL(only ? 'results/servers.only.tmp.json' : quick ? 'results/servers.quick.tmp.json' : 'results/servers.json', import.meta.url))
await mkdir(fileURLToPath(new URL('results/', import.meta.url)), { recursive: true })
await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, mode: only ? `only ${[...only].join(',')}` : quick ? 'quick' : 'full', reps: REPS, elapsedS, rows, runner }, null, 2)}\n`)
console.log(`results: ${out.replace(root, '')}`)
if (rows.some((r) => r.error)) process.exitCode = 1
