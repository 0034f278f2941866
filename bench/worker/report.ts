/** Formats the Cloudflare bench (bench/worker.ts): per workload and size, DO SQLite vs D1 vs LangGraph.js, with the floors. */
import type { Target } from '../report.js'
import { bytes } from '../browser-report.js'
import type { Workload } from '../workloads.js'
import type { Durability } from './protocol.js'

/** One case, in bench/run.ts' record format plus Worker extras. Times in ms unless the name says otherwise. */
export interface WorkerCase {
  engine: 'edgegraph' | 'langgraph'
  /** `do-sqlite`, `d1`, `memory`, `memorysaver` (in the Durable Object) or `langgraph (node, MemorySaver)` (fallback). */
  store: string
  /** edgegraph's durability (LangGraph: its default; recorded as `sync`). */
  durability: Durability
  runtime: 'workerd' | 'node'
  workload: Workload
  n: number
  /** (driver-side wall time of the timed invoke request - median ping RTT) / n: a mean per step, see bench/worker.ts. */
  usPerStep: number
  /** The same as usPerStep in workerd (only the mean is measurable); the Node fallback's mean gap. */
  usPerStepMean: number
  /** Driver-side invoke time, RTT subtracted. */
  runMs: number
  /** The platform floor per step, timed the same way in the same object (do-sqlite: transactionSync; d1: one-statement batch). */
  floorUs: number | null
  /** do-sqlite only: the floor as one bare `sql.exec` per write (joining the object's implicit transaction). */
  floorExecUs: number | null
  /** usPerStep / floorUs, per repetition (then the median). */
  floorRatio: number | null
  /** Gaps between node calls by the Worker's clock (1 ms resolution): 99th percentile and largest, ms. */
  clockGapP99Ms: number | null
  clockGapMaxMs: number | null
  /** Gaps of 2 ms or more: steps that surely took over 1 ms. */
  slowSteps: number | null
  /** The Worker's own clock: median gap, mean gap, invoke time. */
  clockUsPerStep: number | null
  clockUsPerStepMean: number | null
  clockRunMs: number | null
  /** Median round trip of an empty request to the same Durable Object, subtracted from every timed request. */
  rttMs: number | null
  rowsPerStep: number | null
  keysPerStep: number | null
  bytesPerStep: number | null
  commits: number | null
  bytesStored: number
  payloadBytes: number
  getStateMs: number
  historyMs: number
  checkpoints: number
  peakRssMb: number | null
}

const fmt = (x: number | null | undefined, digits = 1) => (x === undefined || x === null || Number.isNaN(x) ? '-' : x >= 100 ? Math.round(x).toString() : x.toFixed(digits))
const times = (x: number | null | undefined) => (x === undefined || x === null ? '-' : `${x.toFixed(2)}x`)
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? '-' : `${fmt(a / b)}x`)
const joined = (cs: (WorkerCase | undefined)[], pick: (c: WorkerCase) => number | null, digits = 1) => cs.map((c) => (c ? fmt(pick(c), digits) : '-')).join(' / ')

function render(header: string[], rows: string[][], leftColumns: number): string {
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((l) => (l[i] ?? '').length)))
  const line = (l: string[]) => l.map((cell, i) => (i < leftColumns ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

const find = (cases: WorkerCase[], engine: string, store: string | undefined, workload: string, n: number, durability: Durability = 'sync') =>
  cases.find((c) => c.engine === engine && (store === undefined || c.store === store) && c.workload === workload && c.n === n && (c.durability ?? 'sync') === durability)

/** The cases of one (workload, n), by role. */
function roles(cases: WorkerCase[], workload: string, n: number) {
  return {
    dox: find(cases, 'edgegraph', 'do-sqlite', workload, n),
    doAsync: find(cases, 'edgegraph', 'do-sqlite', workload, n, 'async'),
    d1: find(cases, 'edgegraph', 'd1', workload, n),
    d1Async: find(cases, 'edgegraph', 'd1', workload, n, 'async'),
    mem: find(cases, 'edgegraph', 'memory', workload, n),
    lg: find(cases, 'langgraph', undefined, workload, n),
  }
}

const keysOf = (cases: WorkerCase[]) => [...new Set(cases.map((c) => `${c.workload} ${c.n}`))].map((key) => key.split(' ') as [string, string])
const perPayload = (c: WorkerCase | undefined) => (c ? `${(c.bytesStored / c.payloadBytes).toFixed(2)}x` : '-')

export function formatWorkerTable(cases: WorkerCase[]): string {
  const costHeader = ['workload', 'n', 'us/step DO', 'DO async', 'DO floor tx/exec', 'DO/floor', 'us/step D1', 'D1 async', 'D1 floor', 'D1/floor', 'mem', 'lg', 'lg/DO', 'lg/D1', 'steps>=2ms DO/D1/lg', 'max gap ms DO/D1/lg']
  const storeHeader = ['workload', 'n', 'rows/step DO/D1/lg', 'keys/step eg', 'B/step DO/D1/lg', 'stored DO', 'stored D1', 'stored lg', 'B/payload DO/D1', 'getState ms DO/D1/lg', 'history ms DO/D1/lg']
  const costRows: string[][] = []
  const storeRows: string[][] = []
  for (const [workload, nText] of keysOf(cases)) {
    const { dox, doAsync, d1, d1Async, mem, lg } = roles(cases, workload, Number(nText))
    const all = [dox, d1, lg]
    costRows.push([
      workload,
      nText,
      fmt(dox?.usPerStep),
      fmt(doAsync?.usPerStep),
      `${fmt(dox?.floorUs)} / ${fmt(dox?.floorExecUs)}`,
      times(dox?.floorRatio),
      fmt(d1?.usPerStep),
      fmt(d1Async?.usPerStep),
      fmt(d1?.floorUs),
      times(d1?.floorRatio),
      fmt(mem?.usPerStep),
      fmt(lg?.usPerStep) + (lg?.runtime === 'node' ? ' (node)' : ''),
      ratio(lg?.usPerStep, dox?.usPerStep),
      ratio(lg?.usPerStep, d1?.usPerStep),
      joined(all, (c) => c.slowSteps, 0),
      joined(all, (c) => c.clockGapMaxMs, 0),
    ])
    storeRows.push([
      workload,
      nText,
      joined(all, (c) => c.rowsPerStep, 2),
      fmt(dox?.keysPerStep ?? d1?.keysPerStep, 2),
      joined(all, (c) => c.bytesPerStep, 0),
      bytes(dox?.bytesStored),
      bytes(d1?.bytesStored),
      bytes(lg?.bytesStored),
      workload === 'counter' ? '-' : `${perPayload(dox)} / ${perPayload(d1)}`,
      joined(all, (c) => c.getStateMs, 2),
      joined(all, (c) => c.historyMs),
    ])
  }
  const lgLabel = cases.some((c) => c.engine === 'langgraph' && c.runtime === 'node') ? 'LangGraph.js 1.7.3 + MemorySaver ("(node)": run in Node, not workerd)' : 'LangGraph.js 1.7.3 + MemorySaver in the same Durable Object'
  const legend = [
    `DO = edgegraph on the Durable Object's SQLite storage, D1 = edgegraph on D1 (from the same Durable Object), durability sync unless`,
    `"async" (group commit); mem = edgegraph on its in-memory adapter in the same object (the engine's own cost in workerd); lg = ${lgLabel}.`,
    'All in one local workerd (wrangler dev, its local trace collector off). us/step = (wall time of the invoke request seen from Node -',
    'median RTT of an empty request to the same object) / n: the mean per step over the whole run, checkpointing included.',
    "Floors, timed the same way in the same object, the mean of one just before and one just after the run: n bare writes of the",
    "warm-up's bytes per step each; DO: one transactionSync each (tx) or one sql.exec each (exec); D1: one one-statement db.batch",
    'each. X/floor = the median of the per-repetition ratios. steps>=2ms / max gap: gaps between node calls by the Worker clock',
    '(1 ms resolution; a step is far below it, so no per-step p50/p99 can be read from it): steps that surely took over 1 ms, and',
    'the largest gap (over all repetitions).',
    'rows/step = rows written as the platform counts them (DO cursor rowsWritten, D1 meta.rows_written; index rows included);',
    'lg: checkpoints + pending writes MemorySaver received. keys/step = puts + deletes handed to the adapter. B/step = key + value',
    'bytes of puts handed to the adapter (lg: checkpoint, metadata and write blobs received). stored = keys + values the thread holds',
    'at the end; B/payload = stored / raw message bytes. getState / history: a fresh graph reading the newest state / every checkpoint,',
    'RTT subtracted. KB/MB are 1024-based.',
  ]
  return [render(costHeader, costRows, 2), '', render(storeHeader, storeRows, 2), '', ...legend].join('\n')
}

export function checkWorkerTargets(cases: WorkerCase[]): Target[] {
  const targets: Target[] = []
  for (const [workload, nText] of keysOf(cases)) {
    const n = Number(nText)
    const { dox, d1 } = roles(cases, workload, n)
    const doName = `${workload} n=${n} on do-sqlite: mean step <= 100 us (sync)`
    targets.push(
      dox
        ? { name: doName, pass: dox.usPerStep <= 100, detail: `${fmt(dox.usPerStep)} us = ${times(dox.floorRatio)} the transactionSync floor (${fmt(dox.floorUs)} us; one sql.exec: ${fmt(dox.floorExecUs)} us)` }
        : { name: doName, pass: null, detail: 'not run' },
    )
    const d1Name = `${workload} n=${n} on d1: mean step <= 1.2 x a one-statement batch (sync)`
    targets.push(
      d1 && d1.floorRatio !== null
        ? { name: d1Name, pass: d1.floorRatio <= 1.2, detail: `${fmt(d1.usPerStep)} us = ${times(d1.floorRatio)} the floor (${fmt(d1.floorUs)} us)` }
        : { name: d1Name, pass: null, detail: 'not run' },
    )
  }
  for (const store of ['do-sqlite', 'd1']) {
    const chat = find(cases, 'edgegraph', store, 'chat', 2000)
    const name = `chat n=2000 on ${store}: bytes stored <= 1.3 x payload`
    targets.push(chat ? { name, pass: chat.bytesStored <= 1.3 * chat.payloadBytes, detail: `${bytes(chat.bytesStored)} = ${(chat.bytesStored / chat.payloadBytes).toFixed(3)} x payload` } : { name, pass: null, detail: 'not run' })
  }
  for (const store of ['do-sqlite', 'd1']) {
    const chat = find(cases, 'edgegraph', store, 'chat', 2000)
    const name = `chat n=2000 on ${store}: full history read <= 100 ms`
    targets.push(chat ? { name, pass: chat.historyMs <= 100, detail: `${fmt(chat.historyMs)} ms for ${chat.checkpoints} checkpoints` } : { name, pass: null, detail: 'not run' })
  }
  return targets
}

/** The README's two tables (Markdown), from the cases of bench/results/worker-latest.json. */
export function readmeTables(cases: WorkerCase[], record: { date: string; reps: number }): string {
  const cost = [
    '| workload | N | µs/step DO sync / async | DO floor µs: transactionSync / sql.exec | DO ÷ floor | µs/step D1 sync / async | D1 floor µs | D1 ÷ floor | engine alone (memory) µs | LangGraph.js µs | steps ≥ 2 ms DO / D1 / LangGraph.js | longest gap ms DO / D1 / LangGraph.js |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  const store = [
    '| workload | N | rows written/step DO / D1 | bytes written/step DO, D1 / LangGraph.js | stored DO, D1 / LangGraph.js | getState ms DO / D1 / LangGraph.js | full history ms DO / D1 / LangGraph.js |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ]
  for (const [workload, nText] of keysOf(cases)) {
    const { dox, doAsync, d1, d1Async, mem, lg } = roles(cases, workload, Number(nText))
    const all = [dox, d1, lg]
    cost.push(
      `| ${workload} | ${nText} | ${fmt(dox?.usPerStep)} / ${fmt(doAsync?.usPerStep)} | ${fmt(dox?.floorUs)} / ${fmt(dox?.floorExecUs)} | ${times(dox?.floorRatio)} | ${fmt(d1?.usPerStep)} / ${fmt(d1Async?.usPerStep)} | ${fmt(d1?.floorUs)} | ${times(d1?.floorRatio)} | ${fmt(mem?.usPerStep)} | ${fmt(lg?.usPerStep)}${lg?.runtime === 'node' ? ' (Node)' : ''} | ${joined(all, (c) => c.slowSteps, 0)} | ${joined(all, (c) => c.clockGapMaxMs, 0)} |`,
    )
    // DO and D1 are handed the same bytes; one figure when they print alike.
    const both = (a: string, b: string) => (a === b ? a : `${a}, ${b}`)
    store.push(
      `| ${workload} | ${nText} | ${joined([dox, d1], (c) => c.rowsPerStep, 1)} | ${both(fmt(dox?.bytesPerStep, 0), fmt(d1?.bytesPerStep, 0))} / ${fmt(lg?.bytesPerStep, 0)} | ${both(bytes(dox?.bytesStored), bytes(d1?.bytesStored))} / ${bytes(lg?.bytesStored)} | ${joined(all, (c) => c.getStateMs, 2)} | ${joined(all, (c) => c.historyMs)} |`,
    )
  }
  return [`<!-- bench:worker ${record.date}, median of ${record.reps} fresh objects per case; printed by \`npx tsx bench/worker.ts --readme\` -->`, ...cost, '', ...store].join('\n')
}
