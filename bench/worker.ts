/**
 * Cloudflare benchmark driver (`npm run bench:worker`, `-- --quick`, `-- --only "d1 chat"`, `-- --readme`): edgegraph
 * on Durable Object SQLite and on D1 (durability sync and async), on its memory adapter, and LangGraph.js +
 * MemorySaver, all inside one Durable Object class in a real local workerd (wrangler dev, a fresh one per
 * repetition), with the platform floors measured in the same object just before and just after each run. Table on
 * stdout, progress on stderr, JSON in bench/results/; `--readme` prints the README's tables from
 * bench/results/worker-latest.json without running anything.
 *
 * How per-step time is measured, and why not as bench/run.ts does: workerd's clock has 1 ms resolution (locally it
 * follows real time; deployed, it moves only when an event is delivered), and a step takes a tenth of that, so
 * timestamps inside the node function cannot time a step. Each phase is its own request, timed from Node:
 * (wall time - median round trip of an empty request to the same object) / n. That is the mean per step over the
 * whole run, checkpointing and the final storage flush included. The floors are timed the same way. What the Worker's
 * clock can still say about the tail (gaps between node calls of 2 ms or more, the largest gap) is reported beside it.
 * getState and history are each read several times per request (READS) so sub-millisecond reads are not lost in the
 * round trip's jitter.
 *
 * wrangler dev's local trace collector (the local explorer's observability, on by default) is turned off: it turns
 * every span, each `sql.exec` included, into a write to its own local store, and made one bare `SELECT 1` on Durable
 * Object SQLite cost ~90 µs instead of ~6 µs here (2 cores). Deployed Workers have no such collector.
 */
import { spawn } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { median, round, type CaseResult } from './common.js'
import { formatTargets } from './report.js'
import { payloadBytes, type Workload } from './workloads.js'
import { startDevServer, type DevServer } from './worker/dev-server.js'
import { READS, WORKER_STORES as STORES, type Action, type CaseSpec, type Durability, type FloorSpec, type ReadReply, type RunReply, type SetupReply, type StoredReply, type WorkerStore } from './worker/protocol.js'
import { checkWorkerTargets, formatWorkerTable, readmeTables, type WorkerCase } from './worker/report.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const latest = fileURLToPath(new URL('results/worker-latest.json', import.meta.url))

if (process.argv.includes('--readme')) {
  const record = JSON.parse(await readFile(latest, 'utf8')) as { cases: WorkerCase[]; date: string; reps: number }
  console.log(readmeTables(record.cases, record))
  process.exit(0)
}

const quick = process.argv.includes('--quick')
/** `--only <text>`: run just the cases whose label ("d1 async chat n=2000") contains it (results go to a .tmp.json). */
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined
const REPS = quick ? 1 : 3
const WARMUP_STEPS = 200
const PINGS = 15
const SIZES: Record<'counter' | 'chat', number[]> = quick ? { counter: [100], chat: [500] } : { counter: [100, 1000], chat: [2000] }
const NODE_LG_STORE = 'langgraph (node, MemorySaver)'
const progress = (s: string) => process.stderr.write(`${s}\n`)

interface Plan {
  store: WorkerStore
  workload: Workload
  n: number
  durability: Durability
}

/** edgegraph on a store in both durability modes; the memory adapter and LangGraph once (nothing to wait for). */
const durabilitiesOf = (store: WorkerStore): Durability[] => (store === 'do-sqlite' || store === 'd1' ? ['sync', 'async'] : ['sync'])
const labelOf = (p: Plan) => `${p.store}${p.durability === 'async' ? ' async' : ''} ${p.workload} n=${p.n}`

const plans: Plan[] = []
for (const workload of ['counter', 'chat'] as const) {
  for (const n of SIZES[workload]) {
    for (const store of STORES) {
      for (const durability of durabilitiesOf(store)) {
        const plan = { store, workload, n, durability }
        if (!only || labelOf(plan).includes(only)) plans.push(plan)
      }
    }
  }
}

/** POSTs one action to the named Durable Object; resolves with its JSON reply and the wall time in ms. */
async function call<T>(server: DevServer, action: Action, object: string, body?: CaseSpec | FloorSpec): Promise<{ reply: T; ms: number }> {
  const t0 = performance.now()
  const res = await fetch(`${server.origin}/${action}?object=${encodeURIComponent(object)}`, { method: 'POST', ...(body ? { body: JSON.stringify(body) } : {}) })
  const text = await res.text()
  const ms = performance.now() - t0
  if (!res.ok) throw new Error(`${action} failed (${res.status}): ${text}`)
  return { reply: JSON.parse(text) as T, ms }
}

/** One repetition on a fresh Durable Object (and fresh D1 tables). */
async function runInWorker(server: DevServer, plan: Plan, rep: number): Promise<WorkerCase> {
  const id = `${plan.store}-${plan.durability}-${plan.workload}-${plan.n}-${rep}-${Date.now()}`
  const table = `b${Date.now().toString(36)}_${rep}_${plan.store.replace('-', '_')}`
  const spec: CaseSpec = { ...plan, warmupSteps: WARMUP_STEPS, table }
  try {
    const { bytesPerStep } = (await call<SetupReply>(server, 'setup', id, spec)).reply
    const pings: number[] = []
    for (let i = 0; i < PINGS; i++) pings.push((await call(server, 'ping', id)).ms)
    const rtt = median(pings)
    const { n } = plan
    // The floors, in the same object just before and just after the run (their mean, so a machine that gets busier or
    // quieter during the run moves both alike): n bare writes of the warm-up's bytes per step each, in a table of
    // their own.
    let floors = 0
    const floorUs = async (kind: FloorSpec['kind']) => {
      const floor: FloorSpec = { kind, n, bytes: Math.max(1, Math.round(bytesPerStep)), table: `${table}_${floors++}` }
      const { ms } = await call(server, 'floor', id, floor)
      return (Math.max(0, ms - rtt) * 1000) / n
    }
    const kinds: FloorSpec['kind'][] = plan.store === 'do-sqlite' ? ['tx', 'exec'] : plan.store === 'd1' ? ['d1'] : []
    const before: number[] = []
    for (const kind of kinds) before.push(await floorUs(kind))
    const run = await call<RunReply>(server, 'run', id)
    const r = run.reply
    const after: number[] = []
    for (const kind of kinds) after.push(await floorUs(kind))
    const floorOf = (i: number) => (kinds[i] === undefined ? null : round(((before[i] as number) + (after[i] as number)) / 2))
    const floor = floorOf(0)
    const floorExec = floorOf(1)
    // Before the reads: LangGraph's chat n=2000 (~1 GB in MemorySaver) had its object reset after the history reads.
    const { bytesStored } = (await call<StoredReply>(server, 'stored', id)).reply
    const got = await call<ReadReply>(server, 'getState', id)
    const hist = await call<ReadReply>(server, 'history', id)
    const runMs = Math.max(0, run.ms - rtt)
    const usPerStep = round((runMs * 1000) / n)
    return {
      engine: plan.store === 'memorysaver' ? 'langgraph' : 'edgegraph',
      store: plan.store,
      durability: plan.durability,
      runtime: 'workerd',
      workload: plan.workload,
      n,
      usPerStep,
      usPerStepMean: usPerStep,
      runMs: round(runMs),
      floorUs: floor,
      floorExecUs: floorExec,
      // Per repetition, so the reported ratio is the median of same-object ratios.
      floorRatio: floor ? round(usPerStep / floor, 3) : null,
      clockGapP99Ms: r.clockGapP99Ms,
      clockGapMaxMs: r.clockGapMaxMs,
      slowSteps: r.slowSteps,
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
      resolve({
        ...c,
        engine: 'langgraph',
        store: NODE_LG_STORE,
        durability: plan.durability,
        runtime: 'node',
        floorUs: null,
        floorExecUs: null,
        floorRatio: null,
        clockGapP99Ms: null,
        clockGapMaxMs: null,
        slowSteps: null,
        clockUsPerStep: null,
        clockUsPerStepMean: null,
        clockRunMs: null,
        rttMs: null,
        rowsPerStep: null,
        keysPerStep: null,
        bytesPerStep: round(c.bytesStored / c.n),
        commits: null,
      })
    })
  })
}

/** The per-metric median of the repetitions (each metric on its own, as bench/run.ts does); the largest gap is the largest seen. */
function medianOf(samples: WorkerCase[]): WorkerCase & { reps: number; samples: WorkerCase[] } {
  const first = samples[0] as WorkerCase
  const numeric = Object.entries(first).filter(([k, v]) => typeof v === 'number' && k !== 'clockGapMaxMs')
  const med = Object.fromEntries(numeric.map(([k]) => [k, round(median(samples.map((s) => s[k as keyof WorkerCase] as number)), 3)]))
  const gaps = samples.map((s) => s.clockGapMaxMs).filter((x): x is number => typeof x === 'number')
  return { ...first, ...med, clockGapMaxMs: gaps.length > 0 ? Math.max(...gaps) : null, reps: samples.length, samples }
}

const started = Date.now()
const cases: (WorkerCase & { reps: number; samples: WorkerCase[] })[] = []
const failures: string[] = []
const langgraphInWorkerd: string[] = []
/** Repetitions run again because their object was reset between its requests. */
const retried: string[] = []
const total = plans.length * REPS
let done = 0

progress(`bench:worker${quick ? ' (quick)' : ''}: a fresh workerd (wrangler dev) for every repetition`)
// A fresh workerd per repetition, as bench/run.ts runs each case in a fresh Node process: all bench objects share one
// isolate, and a heap left big by an earlier case (LangGraph's chat holds ~1 GB) slowed the cases after it, the
// engine's runs more than their floors (D1 counter n=1000: 1.65x its floor after the other cases, 0.99x alone).
let server: DevServer | undefined
let aborted = false
const onSignal = (signal: NodeJS.Signals) => {
  aborted = true
  progress(`${signal}: stopping workerd${server ? ` (pid ${server.pid})` : ''}`)
  void (server?.stop() ?? Promise.resolve()).finally(() => process.exit(130))
}
process.once('SIGINT', onSignal)
process.once('SIGTERM', onSignal)
try {
  for (const plan of plans) {
    const samples: WorkerCase[] = []
    let nodeFallback = false
    let lost = 0
    for (let rep = 1; rep <= REPS && !aborted; rep++) {
      const label = `[${++done}/${total}] ${labelOf(plan)} rep ${rep}`
      const t0 = Date.now()
      try {
        if (nodeFallback) samples.push(await runInNode(plan))
        else {
          server = await startDevServer(() => {})
          samples.push(await runInWorker(server, plan, rep))
        }
        progress(`${label}${nodeFallback ? ' (node)' : ''} ... ${Date.now() - t0} ms`)
      } catch (err) {
        if (aborted) break
        const message = (err as Error).message
        progress(`${label} ... FAILED after ${Date.now() - t0} ms\n${message}\nlast lines from wrangler dev:\n${server?.tail(40) ?? '(not started)'}`)
        // The object was reset between two requests of the repetition (seen a few times on the loaded 2-core machine,
        // without a message from wrangler): that repetition says nothing, it is run again on a fresh workerd (twice at most).
        if (/no case set up/.test(message) && !nodeFallback && lost < 2) {
          lost++
          retried.push(`${labelOf(plan)} rep ${rep}: ${message.split('\n')[0]}`)
          done--
          rep--
          continue
        }
        if (plan.store === 'memorysaver' && !nodeFallback) {
          langgraphInWorkerd.push(`${plan.workload} n=${plan.n}: ${message.split('\n')[0]}`)
          progress(`LangGraph failed in workerd: running ${plan.workload} n=${plan.n} as "${NODE_LG_STORE}" instead`)
          nodeFallback = true
          samples.length = 0
          done -= rep
          rep = 0
          continue
        }
        failures.push(`${labelOf(plan)} rep ${rep}: ${message.split('\n')[0]}`)
      } finally {
        await server?.stop()
        server = undefined
      }
    }
    if (samples.length > 0) cases.push(medianOf(samples))
  }
} finally {
  await server?.stop()
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
}
// Interrupted: write nothing, so a partial run never replaces the last full one.
if (aborted) process.exit(130)

const targets = checkWorkerTargets(cases)
const elapsedS = Math.round((Date.now() - started) / 1000)
console.log(`edgegraph on Durable Object SQLite and D1 vs LangGraph.js (MemorySaver), local workerd via wrangler dev (its local trace collector off), ${os.cpus().length} cpus, median of ${REPS} fresh object(s) per case${quick ? ' (quick run)' : ''}`)
console.log(formatWorkerTable(cases))
if (langgraphInWorkerd.length > 0) console.log(`\nLangGraph.js failed in workerd, ran in Node instead for:\n- ${langgraphInWorkerd.join('\n- ')}`)
console.log('\ntargets (benchmark figures, not assertions)')
console.log(formatTargets(targets))
if (retried.length > 0) console.log(`\nrun again (object reset between requests):\n- ${retried.join('\n- ')}`)
if (failures.length > 0) console.log(`\nFAILED cases:\n- ${failures.join('\n- ')}`)
console.log(`\ntotal ${elapsedS} s`)

// A quick run goes to a git-ignored file so it never replaces the full run's figures.
const out = quick || only ? fileURLToPath(new URL('results/worker-quick.tmp.json', import.meta.url)) : latest
await mkdir(fileURLToPath(new URL('results/', import.meta.url)), { recursive: true })
const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', totalMemGb: Math.round(os.totalmem() / 2 ** 30) }
const method = [
  'usPerStep = (Node-side wall time of the timed invoke request - median RTT of an empty request to the same Durable Object) / n',
  "floorUs = the same for n bare writes of the warm-up's bytes per step each, in the same object, the mean of one just before and one just after the run (do-sqlite: one transactionSync each; d1: one one-statement db.batch each); floorExecUs (do-sqlite) = one sql.exec each",
  'floorRatio = usPerStep / floorUs per repetition, then the median',
  'clock* = the Worker clock (1 ms resolution): gaps between node calls; slowSteps = gaps of 2 ms or more',
  "a fresh workerd (wrangler dev) per repetition, its local trace collector off (X_LOCAL_OBSERVABILITY=false)",
].join('; ')
const record = { date: new Date().toISOString(), node: process.version, wrangler: '4.155.0', machine, mode: quick ? 'quick' : only ? `only ${only}` : 'full', reps: REPS, warmupSteps: WARMUP_STEPS, method, elapsedS, cases, langgraphInWorkerd, retried, targets, failures }
await writeFile(out, JSON.stringify(record, null, 2) + '\n')
console.log(`results: ${out.replace(root, '')}`)
if (failures.length > 0) process.exitCode = 1
