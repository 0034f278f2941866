/** One benchmark measurement in this process: `--engine edgegraph|langgraph --workload counter|chat|react --n N` → one JSON line. */
import { parseArgs } from 'node:util'
import type { Subject, SubjectOptions } from './engines/subject.js'
import { ENGINES, median, percentile, round, type CaseResult, type Engine } from './common.js'
import { touchMemory } from './memory.js'
import { checkFinal, checkHistory, firstProgress, messagesFor, nodeCalls, payloadBytes, WORKLOADS, type Workload } from './workloads.js'

// 20 steps (the first method tried here) left the JIT cold: edgegraph's chat step measured 40-100 us at n=100
// but ~20 us once warm. Rounds of 200 steps, the same for both engines: at least two, and as many more as fit in
// WARMUP_MS. A count of steps alone was not the same warm-up for both: V8 optimizes a function after enough calls and
// compiles it on a background thread, and 400 of edgegraph's steps take 10-20 ms, so its step functions were compiled
// by TurboFan during the timed run (580 ms of compile threads in a 5000-step counter, on a 2-vCPU machine competing
// with the run: mean 40-45 us a step, 12-20 once warm for a second), while 400 of LangGraph.js's steps take 0.3-0.5 s.
const WARMUP_STEPS = 200
const WARMUP_MS = 1000
/** Largest n whose full history (every checkpoint with its values) is read. */
const HISTORY_MAX = 20_000

async function runCase(engine: Engine, workload: Workload, n: number, encrypted: boolean): Promise<CaseResult> {
  // Load only the engine measured, so the other one's code adds nothing to this process's memory or GC.
  const make: (o: SubjectOptions) => Subject =
    engine === 'edgegraph' ? (await import('./engines/edgegraph.js')).edgegraphSubject : (await import('./engines/langgraph.js')).langgraphSubject
  const messages = messagesFor(workload, Math.max(n, WARMUP_STEPS))
  touchMemory()

  // Warm-up: rounds of the same graph for WARMUP_STEPS steps, each on its own store and thread, read paths included,
  // so the timed run and reads below measure JIT-compiled code rather than first-call costs and compiles.
  // Two graph instances at least, as the timed run uses another: call sites that have seen one node closure get
  // deoptimized by the next, and with a single warm-up instance whether re-optimization finished within a
  // short timed run was a coin toss (counter n=100 measured 20 or 60 us per step, run to run).
  let warmupRounds = 0
  for (const w0 = performance.now(); warmupRounds < 2 || performance.now() - w0 < WARMUP_MS; ) {
    const thread = `warmup-${++warmupRounds}`
    const warm = make({ workload, n: WARMUP_STEPS, messages, onStep: () => {}, encrypted })
    checkFinal(workload, WARMUP_STEPS, messages, await warm.run(thread), `${engine} warm-up`)
    await warm.getState(thread)
    await warm.history(thread)
  }

  const stamps: number[] = []
  const subject = make({ workload, n, messages, onStep: () => stamps.push(performance.now()), encrypted })
  const thread = 'bench'
  const t0 = performance.now()
  const final = await subject.run(thread)
  const runMs = performance.now() - t0
  checkFinal(workload, n, messages, final, `${engine} invoke`)
  if (stamps.length !== nodeCalls(workload, n)) throw new Error(`${engine}: nodes ran ${stamps.length} times, expected ${nodeCalls(workload, n)}`)

  const t1 = performance.now()
  const state = await subject.getState(thread)
  const getStateMs = performance.now() - t1
  checkFinal(workload, n, messages, state, `${engine} getState`)

  // The full history with values is every state at once: n²/2 list items for the chat, about 10 GB at 50,000 (found
  // in issue 15; see the README's Benchmarks). It is read up to HISTORY_MAX steps and left out above.
  let historyMs = Number.NaN
  let seen: number[] = []
  if (n <= HISTORY_MAX) {
    const t2 = performance.now()
    seen = await subject.history(thread)
    historyMs = performance.now() - t2
    checkHistory(n, seen, `${engine} getStateHistory`, firstProgress(workload))
  }

  // The floor of a read: the newest state's bytes parsed once (its JSON text, as a store holding it whole would).
  const stateText = JSON.stringify(state)
  const floors: number[] = []
  for (let i = 0; i < 5; i++) {
    const t3 = performance.now()
    JSON.parse(stateText)
    floors.push(performance.now() - t3)
  }

  const gaps = stamps.slice(1).map((t, i) => (t - (stamps[i] as number)) * 1000)
  return {
    engine,
    store: subject.store,
    workload,
    n,
    usPerStep: round(median(gaps)),
    usPerStepMean: round((runMs * 1000) / n),
    usPerStepP99: round(percentile(gaps, 0.99)),
    runMs: round(runMs),
    bytesStored: subject.bytesStored(),
    ...(subject.bytesWritten ? { bytesWritten: subject.bytesWritten() } : {}),
    payloadBytes: payloadBytes(workload, n),
    getStateMs: round(getStateMs, 3),
    getStateFloorMs: round(median(floors), 3),
    historyMs: round(historyMs, 3),
    checkpoints: seen.length,
    peakRssMb: round(process.resourceUsage().maxRSS / 1024),
    warmupRounds,
    ...(encrypted ? { encrypted } : {}),
  }
}

function parseCli(): { engine: Engine; workload: Workload; n: number; encrypted: boolean } {
  const { values } = parseArgs({ options: { engine: { type: 'string' }, workload: { type: 'string' }, n: { type: 'string' }, encrypted: { type: 'boolean' } } })
  const engine = ENGINES.find((e) => e === values.engine)
  const workload = WORKLOADS.find((w) => w === values.workload)
  const n = Number(values.n)
  if (!engine || !workload || !Number.isInteger(n) || n < 2 || (values.encrypted && engine !== 'edgegraph')) {
    throw new Error(`usage: tsx bench/case.ts --engine edgegraph|langgraph --workload ${WORKLOADS.join('|')} --n N (N ≥ 2) [--encrypted (edgegraph only)]`)
  }
  return { engine, workload, n, encrypted: values.encrypted === true }
}

const { engine, workload, n, encrypted } = parseCli()
process.stdout.write(JSON.stringify(await runCase(engine, workload, n, encrypted)) + '\n')
