/**
 * Cloudflare benchmark driver (`npm run bench:worker`, `-- --quick`, `-- --only "d1 chat"`): edgegraph on Durable
 * Object SQLite, on D1 and on its memory adapter, and LangGraph.js + MemorySaver, all inside one Durable Object class
 * in a real local workerd (wrangler dev). Table on stdout, progress on stderr, JSON in bench/results/.
 *
 * How per-step time is measured, and why not as bench/run.ts does: workerd's clock has 1 ms resolution and only
 * moves when an event is delivered (an I/O completion, a timer). Timestamps inside the node function gave a median
 * gap of 0 µs on DO SQLite, memory and LangGraph (many synchronous steps run within one event) and 1000 or 2000 µs on
 * D1 (one round trip per step, rounded to the ms); the clock's total for a DO run was a third to a half of its wall
 * time. So each phase is its own request, timed from Node: (wall time - median round trip of an empty request to
 * the same object) / n. That is a mean per step, checkpointing and the final storage flush included, not a median
 * gap; the Worker clock's figures stay in the JSON (`clock*`). getState and history are each read several times per
 * request (READS) so sub-millisecond reads are not lost in the round trip's jitter.
 */
import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { median, round, type CaseResult } from './common.js'
import { formatTargets } from './report.js'
import { payloadBytes, type Workload } from './workloads.js'
import { startDevServer, type DevServer } from './worker/dev-server.js'
import { READS, WORKER_STORES as STORES, type Action, type CaseSpec, type ReadReply, type RunReply, type StoredReply, type WorkerStore } from './worker/protocol.js'
import { checkWorkerTargets, formatWorkerTable, type WorkerCase } from './worker/report.js'

const quick = process.argv.includes('--quick')
/** `--only <text>`: run just the cases whose label ("d1 chat n=2000") contains it (results go to a .tmp.json). */
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined
const REPS = quick ? 1 : 3
const WARMUP_STEPS = 200
const PINGS = 15
const SIZES: Record<'counter' | 'chat', number[]> = quick ? { counter: [100], chat: [500] } : { counter: [100, 1000], chat: [2000] }
const NODE_LG_STORE = 'langgraph (node, MemorySaver)'
const root = fileURLToPath(new URL('..', import.meta.url))
const progress = (s: string) => process.stderr.write(`${s}\n`)

interface Plan {
  store: WorkerStore
  workload: Workload
  n: number
}

const plans: Plan[] = []
for (const workload of ['counter', 'chat'] as const) {
  for (const n of SIZES[workload]) for (const store of STORES) if (!only || `${store} ${workload} n=${n}`.includes(only)) plans.push({ store, workload, n })
}

/** POSTs one action to the named Durable Object; resolves with its JSON reply and the wall time in ms. */
async function call<T>(server: DevServer, action: Action, object: string, spec?: CaseSpec): Promise<{ reply: T; ms: number }> {
  const t0 = performance.now()
  const res = await fetch(`${server.origin}/${action}?object=${encodeURIComponent(object)}`, { method: 'POST', ...(spec ? { body: JSON.stringify(spec) } : {}) })
  const text = await res.text()
  const ms = performance.now() - t0
  if (!res.ok) throw new Error(`${action} failed (${res.status}): ${text}`)
  return { reply: JSON.parse(text) as T, ms }
}

/** One repetition on a fresh Durable Object (and fresh D1 tables). */
async function runInWorker(server: DevServer, plan: Plan, rep: number): Promise<WorkerCase> {
  const id = `${plan.store}-${plan.workload}-${plan.n}-${rep}-${Date.now()}`
  const spec: CaseSpec = { ...plan, warmupSteps: WARMUP_STEPS, table: `b${Date.now().toString(36)}_${rep}_${plan.store.replace('-', '_')}` }
  try {
    await call(server, 'setup', id, spec)
    const pings: number[] = []
    for (let i = 0; i < PINGS; i++) pings.push((await call(server, 'ping', id)).ms)
    const rtt = median(pings)
    const run = await call<RunReply>(server, 'run', id)
    // Before the reads: LangGraph's chat n=2000 (~1 GB in MemorySaver) had its object reset after the history reads.
    const { bytesStored } = (await call<StoredReply>(server, 'stored', id)).reply
    const got = await call<ReadReply>(server, 'getState', id)
    const hist = await call<ReadReply>(server, 'history', id)
    const { n } = plan
    const runMs = Math.max(0, run.ms - rtt)
    const r = run.reply
    return {
      engine: plan.store === 'memorysaver' ? 'langgraph' : 'edgegraph',
      store: plan.store,
      runtime: 'workerd',
      workload: plan.workload,
      n,
      usPerStep: round((runMs * 1000) / n),
      usPerStepMean: round((runMs * 1000) / n),
      runMs: round(runMs),
      clockUsPerStep: round(r.clockUsPerStep),
      clockUsPerStepMean: round(r.clockUsPerStepMean),
      clockRunMs: round(r.clockRunMs),
      rttMs: round(rtt, 3),
      rowsPerStep: plan.store === 'memory' ? null : round(r.rowsWritten / n, 3),
      keysPerStep: round(r.keysWritten / n, 3),
      // MemorySaver keeps all it receives, so what it holds is what it was handed (bench/engines/langgraph.ts).
      bytesPerStep: round((plan.store === 'memorysaver' ? bytesStored : r.bytesWritten) / n),
      commits: r.commits,
      bytesStored,
      payloadBytes: payloadBytes(plan.workload, n),
      getStateMs: round(Math.max(0, got.ms - rtt) / READS.getState, 3),
      historyMs: round(Math.max(0, hist.ms - rtt) / READS.history, 3),
      checkpoints: hist.reply.checkpoints,
      peakRssMb: null,
    }
  } finally {
    await call(server, 'release', id).catch(() => {})
  }
}

/** Fallback when LangGraph fails in workerd: bench/case.ts in a fresh Node process, as bench/run.ts runs it. */
function runInNode(plan: Plan): Promise<WorkerCase> {
  return new Promise((resolve, reject) => {
    const args = ['--max-old-space-size=8192', '--import', 'tsx', fileURLToPath(new URL('case.ts', import.meta.url)), '--engine', 'langgraph', '--workload', plan.workload, '--n', String(plan.n)]
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], timeout: 10 * 60_000 })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d))
    child.stderr.on('data', (d: Buffer) => (err += d))
    child.on('error', reject)
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? ''
      if (code !== 0 || !line.startsWith('{')) return reject(new Error(`node langgraph ${plan.workload} n=${plan.n} exited with ${code}\n${err.trim()}`))
      const c = JSON.parse(line) as CaseResult
      resolve({ ...c, engine: 'langgraph', store: NODE_LG_STORE, runtime: 'node', clockUsPerStep: null, clockUsPerStepMean: null, clockRunMs: null, rttMs: null, rowsPerStep: null, keysPerStep: null, bytesPerStep: round(c.bytesStored / c.n), commits: null })
    })
  })
}

/** The per-metric median of the repetitions (each metric on its own, as bench/run.ts does). */
function medianOf(samples: WorkerCase[]): WorkerCase & { reps: number; samples: WorkerCase[] } {
  const first = samples[0] as WorkerCase
  const numeric = Object.entries(first).filter(([, v]) => typeof v === 'number')
  const med = Object.fromEntries(numeric.map(([k]) => [k, round(median(samples.map((s) => s[k as keyof WorkerCase] as number)), 3)]))
  return { ...first, ...med, reps: samples.length, samples }
}

const started = Date.now()
const cases: (WorkerCase & { reps: number; samples: WorkerCase[] })[] = []
const failures: string[] = []
const langgraphInWorkerd: string[] = []
const total = plans.length * REPS
let done = 0

progress(`bench:worker${quick ? ' (quick)' : ''}: bundling bench/worker/index.ts and starting workerd`)
const server = await startDevServer(progress)
let aborted = false
const onSignal = (signal: NodeJS.Signals) => {
  aborted = true
  progress(`${signal}: stopping workerd (pid ${server.pid})`)
  void server.stop().finally(() => process.exit(130))
}
process.once('SIGINT', onSignal)
process.once('SIGTERM', onSignal)
try {
  for (const plan of plans) {
    const samples: WorkerCase[] = []
    let nodeFallback = false
    for (let rep = 1; rep <= REPS && !aborted; rep++) {
      const label = `[${++done}/${total}] ${plan.store} ${plan.workload} n=${plan.n} rep ${rep}`
      const t0 = Date.now()
      try {
        samples.push(nodeFallback ? await runInNode(plan) : await runInWorker(server, plan, rep))
        progress(`${label}${nodeFallback ? ' (node)' : ''} ... ${Date.now() - t0} ms`)
      } catch (err) {
        if (aborted) break
        const message = (err as Error).message
        progress(`${label} ... FAILED after ${Date.now() - t0} ms\n${message}\nlast lines from wrangler dev:\n${server.tail(15)}`)
        if (plan.store === 'memorysaver' && !nodeFallback) {
          langgraphInWorkerd.push(`${plan.workload} n=${plan.n}: ${message.split('\n')[0]}`)
          progress(`LangGraph failed in workerd: running ${plan.workload} n=${plan.n} as "${NODE_LG_STORE}" instead`)
          nodeFallback = true
          samples.length = 0
          done -= rep
          rep = 0
          continue
        }
        failures.push(`${plan.store} ${plan.workload} n=${plan.n} rep ${rep}: ${message.split('\n')[0]}`)
      }
    }
    if (samples.length > 0) cases.push(medianOf(samples))
  }
} finally {
  await server.stop()
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
}
// Interrupted: write nothing, so a partial run never replaces the last full one.
if (aborted) process.exit(130)

const targets = checkWorkerTargets(cases)
const elapsedS = Math.round((Date.now() - started) / 1000)
console.log(`edgegraph on Durable Object SQLite and D1 vs LangGraph.js (MemorySaver), local workerd via wrangler dev, ${os.cpus().length} cpus, median of ${REPS} fresh object(s) per case${quick ? ' (quick run)' : ''}`)
console.log(formatWorkerTable(cases))
if (langgraphInWorkerd.length > 0) console.log(`\nLangGraph.js failed in workerd, ran in Node instead for:\n- ${langgraphInWorkerd.join('\n- ')}`)
console.log('\ntargets (benchmark figures, not assertions)')
console.log(formatTargets(targets))
if (failures.length > 0) console.log(`\nFAILED cases:\n- ${failures.join('\n- ')}`)
console.log(`\ntotal ${elapsedS} s`)

// A quick run goes to a git-ignored file so it never replaces the full run's figures.
const out = fileURLToPath(new URL(quick || only ? 'results/worker-quick.tmp.json' : 'results/worker-latest.json', import.meta.url))
await mkdir(fileURLToPath(new URL('results/', import.meta.url)), { recursive: true })
const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', totalMemGb: Math.round(os.totalmem() / 2 ** 30) }
const method = 'usPerStep = (Node-side wall time of the timed invoke request - median RTT of an empty request to the same Durable Object) / n; clock* = the Worker clock (1 ms, frozen between I/O)'
const record = { date: new Date().toISOString(), node: process.version, wrangler: '4.155.0', machine, mode: quick ? 'quick' : only ? `only ${only}` : 'full', reps: REPS, warmupSteps: WARMUP_STEPS, method, elapsedS, cases, langgraphInWorkerd, targets, failures }
await writeFile(out, JSON.stringify(record, null, 2) + '\n')
console.log(`results: ${out.replace(root, '')}`)
if (failures.length > 0) process.exitCode = 1
