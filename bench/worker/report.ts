/** Formats the Cloudflare bench (bench/worker.ts): one row per workload and size, DO SQLite vs D1 vs LangGraph.js. */
import type { Target } from '../report.js'
import { bytes } from '../browser-report.js'
import type { Workload } from '../workloads.js'

/** One case, in bench/run.ts' record format plus Worker extras. Times in ms unless the name says otherwise. */
export interface WorkerCase {
  engine: 'edgegraph' | 'langgraph'
  /** `do-sqlite`, `d1`, `memory`, `memorysaver` (in the Durable Object) or `langgraph (node, MemorySaver)` (fallback). */
  store: string
  runtime: 'workerd' | 'node'
  workload: Workload
  n: number
  /** (driver-side wall time of the timed invoke request - median ping RTT) / n: a mean per step, see bench/worker.ts. */
  usPerStep: number
  /** The same as usPerStep in workerd (only the mean is measurable); the Node fallback's mean gap. */
  usPerStepMean: number
  /** Driver-side invoke time, RTT subtracted. */
  runMs: number
  /** The Worker's own clock (1 ms resolution, frozen between I/O): median gap, mean gap, invoke time. */
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
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? '-' : `${fmt(a / b)}x`)
const three = (cs: (WorkerCase | undefined)[], pick: (c: WorkerCase) => number | null, digits = 1) => cs.map((c) => (c ? fmt(pick(c), digits) : '-')).join(' / ')

function render(header: string[], rows: string[][], leftColumns: number): string {
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((l) => (l[i] ?? '').length)))
  const line = (l: string[]) => l.map((cell, i) => (i < leftColumns ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

const find = (cases: WorkerCase[], engine: string, store: string | undefined, workload: string, n: number) =>
  cases.find((c) => c.engine === engine && (store === undefined || c.store === store) && c.workload === workload && c.n === n)

export function formatWorkerTable(cases: WorkerCase[]): string {
  const header = ['workload', 'n', 'us/step DO', 'us/step D1', 'us/step mem', 'us/step lg', 'lg/DO', 'lg/D1', 'rows/step DO/D1/lg', 'keys/step eg', 'B/step DO/D1/lg', 'stored DO', 'stored D1', 'stored lg', 'B/payload DO/D1', 'getState ms DO/D1/lg', 'history ms DO/D1/lg']
  const keys = [...new Set(cases.map((c) => `${c.workload} ${c.n}`))]
  const rows = keys.map((key) => {
    const [workload, nText] = key.split(' ') as [string, string]
    const n = Number(nText)
    const dox = find(cases, 'edgegraph', 'do-sqlite', workload, n)
    const d1 = find(cases, 'edgegraph', 'd1', workload, n)
    const lg = find(cases, 'langgraph', undefined, workload, n)
    const mem = find(cases, 'edgegraph', 'memory', workload, n)
    const all = [dox, d1, lg]
    const perPayload = (c: WorkerCase | undefined) => (c ? `${(c.bytesStored / c.payloadBytes).toFixed(2)}x` : '-')
    return [
      workload,
      nText,
      fmt(dox?.usPerStep),
      fmt(d1?.usPerStep),
      fmt(mem?.usPerStep),
      fmt(lg?.usPerStep) + (lg?.runtime === 'node' ? ' (node)' : ''),
      ratio(lg?.usPerStep, dox?.usPerStep),
      ratio(lg?.usPerStep, d1?.usPerStep),
      three(all, (c) => c.rowsPerStep, 2),
      fmt(dox?.keysPerStep ?? d1?.keysPerStep, 2),
      three(all, (c) => c.bytesPerStep, 0),
      bytes(dox?.bytesStored),
      bytes(d1?.bytesStored),
      bytes(lg?.bytesStored),
      workload === 'chat' ? `${perPayload(dox)} / ${perPayload(d1)}` : '-',
      three(all, (c) => c.getStateMs, 2),
      three(all, (c) => c.historyMs),
    ]
  })
  const lgLabel = cases.some((c) => c.engine === 'langgraph' && c.runtime === 'node') ? 'LangGraph.js 1.7.3 + MemorySaver ("(node)": run in Node, not workerd)' : 'LangGraph.js 1.7.3 + MemorySaver in the same Durable Object'
  const legend = [
    `DO = edgegraph on the Durable Object's SQLite storage, D1 = edgegraph on D1 (from the same Durable Object), mem = edgegraph on`,
    `its in-memory adapter in the same object (the engine's own cost in workerd, nothing stored), lg = ${lgLabel}.`,
    'All in one local workerd (wrangler dev). us/step = (wall time of the invoke request seen from Node - median RTT of an empty request',
    'to the same object) / n, i.e. a mean per step, checkpointing included; the Worker clock is too coarse to time steps (see the JSON).',
    'rows/step = rows written as the platform counts them (DO cursor rowsWritten, D1 meta.rows_written; index rows included);',
    'lg: checkpoints + pending writes MemorySaver received. keys/step = puts + deletes handed to the adapter.',
    'B/step = key + value bytes of puts handed to the adapter (lg: checkpoint, metadata and write blobs received).',
    'stored = keys + values the thread holds at the end; B/payload = stored / raw message bytes. getState / history: a fresh graph',
    'reading the newest state / every checkpoint with values, RTT subtracted. KB/MB are 1024-based.',
  ]
  return [render(header, rows, 2), '', ...legend].join('\n')
}

export function checkWorkerTargets(cases: WorkerCase[]): Target[] {
  const targets: Target[] = []
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
