/**
 * Figures and tables of the browser bench: per-step figures (also computed inside the pages, so this module imports
 * types only), the per-step and storage tables, the IndexedDB durability table, restore, scale and the targets.
 */
import type { Target } from './report.js'
import type { Workload } from './workloads.js'

/**
 * Where IndexedDB lives: `in-memory` = the harness' off-the-record browser context (Chromium keeps its IndexedDB
 * in memory, nothing is flushed); `disk` = a persistent profile in a temp directory, as a normal browser has.
 */
export type Profile = 'in-memory' | 'disk'

/** Per-step times of one timed run, in µs. */
export interface StepFigures {
  /** The whole invoke over n: what a user waits for per step, slow steps and the last commit included. */
  usPerStepMean: number
  /** p50 and p99 of the gaps between consecutive node calls. */
  usPerStep: number
  usPerStepP99: number
}

/** Mean, p50 and p99 of a list of times (µs). */
export interface Summary {
  mean: number
  p50: number
  p99: number
}

/** The nearest-rank percentile `p` (0..1) of `xs`. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number
}

export function summarize(xs: readonly number[]): Summary {
  const sorted = [...xs].sort((a, b) => a - b)
  return { mean: xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length), p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) }
}

/** The step figures of a run from the node-call timestamps (ms) and the invoke's wall time. */
export function stepFigures(stamps: readonly number[], runMs: number, n: number): StepFigures {
  const gaps = stamps.slice(1).map((t, i) => (t - (stamps[i] as number)) * 1000)
  const { p50, p99 } = summarize(gaps)
  return { usPerStepMean: (runMs * 1000) / n, usPerStep: p50, usPerStepP99: p99 }
}

/** One case of the browser bench (per-metric medians over its fresh pages). Times in ms unless named µs. */
export interface BrowserCase extends StepFigures {
  engine: 'edgegraph' | 'langgraph'
  store: string
  workload: Workload
  n: number
  /** `main`: the side-by-side table; `hint`: an IndexedDB durability hint or the disk profile; `scale`: long chats. */
  group: 'main' | 'hint' | 'scale'
  bytesStored: number
  payloadBytes: number
  getStateMs: number
  /** null where no page could read the whole history (see `historyError`). */
  historyMs: number | null
  runMs: number
  checkpoints: number | null
  /** Why the full history read failed, in how many pages (a tab out of memory, say). */
  historyError?: string
  profile: Profile
  /** edgegraph run-config durability (LangGraph: its default). */
  durability: string
  /** IndexedDB transaction durability hint ("default" = the browser's). */
  idbDurability: string
  /** VmHWM of the tab's renderer process, read from /proc (null when it could not be read). */
  peakRssMb: number | null
  /** Peak of V8's used heap while the page ran (DevTools `Runtime.getHeapUsage`, sampled every 100 ms). */
  peakHeapMb: number | null
  /** The same up to the end of the timed run and getState, before the full history read (edgegraph only). */
  runPeakHeapMb?: number | null
  /** IndexedDB transactions during the timed invoke, and the commits' figures (edgegraph only). */
  txReadwrite?: number
  txReadwritePerStep?: number
  txReadonly?: number
  commits?: number
  packCommits?: number
  bytesPerCommit?: number
  /** The bare readwrite transaction in the same page (µs), the size of its value, and this case's mean over it. */
  floorUs?: number
  floorP50Us?: number
  floorP99Us?: number
  floorValueBytes?: number
  floorRatio?: number
}

export interface RestoreResult {
  profile: Profile
  n: number
  reps: number
  writeMs: number
  bytesStored: number
  records: number
  /** Medians over the fresh pages. */
  restoreMs: number
  floorMs: number
  /** Median of each page's restore / floor. */
  ratio: number
  /** Medians by which ran first in the page. */
  byOrder: { order: string; pages: number; restoreMs: number; floorMs: number }[]
  scriptStartMs: number
  navToStateMs: number
  warmGetStateMs: number
  historyMs: number
  checkpoints: number
  samples: { order: string; restoreMs: number; floorMs: number; navToStateMs: number; warmGetStateMs: number; historyMs: number }[]
}

const fmt = (x: number | null | undefined, digits = 1) => (x === undefined || x === null || Number.isNaN(x) ? '-' : x >= 100 ? Math.round(x).toString() : x.toFixed(digits))
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? '-' : `${(a / b).toFixed(2)}x`)
export function bytes(b: number | undefined): string {
  if (b === undefined) return '-'
  if (b < 1024) return `${b} B`
  if (b < 1024 ** 2) return `${(b / 1024).toFixed(1)} KB`
  return `${(b / 1024 ** 2).toFixed(b < 100 * 1024 ** 2 ? 2 : 0)} MB`
}

function render(header: string[], rows: string[][], leftColumns: number): string {
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((l) => (l[i] ?? '').length)))
  const line = (l: string[]) => l.map((cell, i) => (i < leftColumns ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

export const findCase = (cases: BrowserCase[], engine: string, workload: string, n: number, durability?: string, idb = 'default', profile: Profile = 'in-memory') =>
  cases.find((c) => c.engine === engine && c.workload === workload && c.n === n && (engine === 'langgraph' || (c.durability === durability && c.idbDurability === idb && c.profile === profile)))

const mainKeys = (cases: BrowserCase[]) => [...new Set(cases.filter((c) => c.group === 'main').map((c) => `${c.workload} ${c.n}`))].map((k) => k.split(' ') as [Workload, string])
const triple = (c: StepFigures | undefined) => (c ? `${fmt(c.usPerStepMean)} / ${fmt(c.usPerStep)} / ${fmt(c.usPerStepP99)}` : '-')

/** Full-history time per checkpoint (µs), where the history was read. */
const perCheckpointUs = (c: BrowserCase) => (c.historyMs === null || c.checkpoints === null || c.checkpoints === 0 ? undefined : (c.historyMs * 1000) / c.checkpoints)

/** Per-step time: edgegraph on IndexedDB (sync and async durability), its floor, and LangGraph.js on MemorySaver. */
export function formatStepTable(cases: BrowserCase[]): string {
  const header = ['workload', 'n', 'eg sync mean/p50/p99', 'floor', 'sync/floor', 'eg async mean/p50/p99', 'lg mean/p50/p99', 'lg/eg sync', 'lg/eg async', 'rw tx/step sync', 'rw tx/step async', 'pack commits']
  const rows = mainKeys(cases).map(([workload, nText]) => {
    const n = Number(nText)
    const sync = findCase(cases, 'edgegraph', workload, n, 'sync')
    const async_ = findCase(cases, 'edgegraph', workload, n, 'async')
    const lg = findCase(cases, 'langgraph', workload, n)
    return [
      workload,
      nText,
      triple(sync),
      fmt(sync?.floorUs),
      sync?.floorRatio === undefined ? '-' : `${sync.floorRatio.toFixed(2)}x`,
      triple(async_),
      triple(lg),
      ratio(lg?.usPerStepMean, sync?.usPerStepMean),
      ratio(lg?.usPerStepMean, async_?.usPerStepMean),
      fmt(sync?.txReadwritePerStep, 3),
      fmt(async_?.txReadwritePerStep, 3),
      fmt(sync?.packCommits, 0),
    ]
  })
  const legend = [
    'µs per step. mean = the whole invoke / n (what a user waits for; async: commits still queued at the end included; the',
    'database is open before the invoke, as after an app\'s first call: opening it is in the restore figures);',
    'p50/p99 = of the gaps between consecutive node calls. eg = edgegraph + IndexedDB adapter (harness context: off the record,',
    'so Chromium keeps IndexedDB in memory; default transaction durability), every checkpoint committed. lg = LangGraph.js +',
    'MemorySaver (in memory, no persistence) in the same Chromium. floor = mean of bare readwrite transactions putting one value',
    'of the step\'s write size, awaited until complete, timed in the same pages as the sync run; sync/floor = median over pages',
    'of the page\'s mean / its floor. lg/eg = how many times longer LangGraph takes per step, by the mean.',
    'rw tx/step = readwrite IndexedDB transactions per step of the timed run (sync: one per checkpoint plus pack commits).',
  ]
  return [render(header, rows, 2), '', ...legend].join('\n')
}

/** What each case stored and read back, and the memory its page used. */
export function formatStorageTable(cases: BrowserCase[]): string {
  const header = ['workload', 'n', 'stored eg', 'B/payload eg', 'stored lg', 'getState ms eg', 'getState ms lg', 'history ms eg', 'history ms lg', 'peak heap MB eg', 'peak heap MB lg', 'peak RSS MB eg', 'peak RSS MB lg']
  const rows = mainKeys(cases).map(([workload, nText]) => {
    const n = Number(nText)
    const eg = findCase(cases, 'edgegraph', workload, n, 'sync') ?? findCase(cases, 'edgegraph', workload, n, 'async')
    const lg = findCase(cases, 'langgraph', workload, n)
    return [
      workload,
      nText,
      bytes(eg?.bytesStored),
      eg && workload !== 'counter' ? `${(eg.bytesStored / eg.payloadBytes).toFixed(2)}x` : '-',
      bytes(lg?.bytesStored),
      fmt(eg?.getStateMs, 2),
      fmt(lg?.getStateMs, 2),
      fmt(eg?.historyMs),
      fmt(lg?.historyMs),
      fmt(eg?.peakHeapMb),
      fmt(lg?.peakHeapMb),
      fmt(eg?.peakRssMb, 0),
      fmt(lg?.peakRssMb, 0),
    ]
  })
  const legend = [
    "edgegraph figures from its sync run. stored = keys + values (LangGraph: MemorySaver's checkpoint and write blobs). peak heap =",
    "V8's used heap sampled every 100 ms over the whole page (warm-up, run, reads); peak RSS = the renderer's high-water mark.",
  ]
  return [render(header, rows, 2), '', ...legend].join('\n')
}

/** The hinted sync cases per profile and IndexedDB durability hint, each with the floor timed in its own pages. */
export function formatDurabilityTable(cases: BrowserCase[]): string {
  const hinted = cases.filter((c) => c.engine === 'edgegraph' && c.durability === 'sync' && c.group !== 'scale' && (c.group === 'hint' || cases.some((h) => h.group === 'hint' && h.workload === c.workload && h.n === c.n)))
  const keys = [...new Set(hinted.filter((c) => c.group === 'hint').map((c) => `${c.workload} ${c.n}`))]
  const rows: string[][] = []
  for (const profile of ['in-memory', 'disk'] as const) {
    for (const key of keys) {
      const [workload, nText] = key.split(' ') as [string, string]
      for (const hint of ['default', 'relaxed', 'strict']) {
        const c = findCase(cases, 'edgegraph', workload, Number(nText), 'sync', hint, profile)
        if (c) rows.push([profile, `${workload} n=${nText}`, hint, triple(c), fmt(c.floorUs), c.floorRatio === undefined ? '-' : `${c.floorRatio.toFixed(2)}x`])
      }
    }
  }
  if (rows.length === 0) return '(not run)'
  return render(['profile', 'case', 'IDB durability', 'mean/p50/p99 µs', 'floor µs', 'mean/floor'], rows, 3)
}

export function formatRestore(restores: RestoreResult[], failures: string[]): string {
  const out: string[] = []
  for (const r of restores) {
    const list = (k: 'restoreMs' | 'floorMs' | 'warmGetStateMs' | 'historyMs') => r.samples.map((s) => fmt(s[k])).join(' ')
    out.push(
      `${r.profile} profile: ${r.n}-step chat, ${bytes(r.bytesStored)} in ${r.records} records, written once in ${fmt(r.writeMs)} ms (async durability); ${r.reps} fresh pages, median [each]:`,
      `  restore: create the adapter, open the database, getState with every message   ${fmt(r.restoreMs)} ms  [${list('restoreMs')}]`,
      `  floor: open a copy of the same records and read them with one getAll           ${fmt(r.floorMs)} ms  [${list('floorMs')}]`,
      `  restore / floor (median of the pages' ratios)                                  ${r.ratio.toFixed(2)}x`,
      ...r.byOrder.map((o) => `    ${o.order.padEnd(13)} ${o.pages} pages: restore ${fmt(o.restoreMs)} ms, floor ${fmt(o.floorMs)} ms`),
      `  navigation start -> state (page and bundle load included)  ${fmt(r.navToStateMs)} ms; navigation start -> script start ${fmt(r.scriptStartMs)} ms`,
      `  second getState in the same page (DB open, code warm)     ${fmt(r.warmGetStateMs)} ms  [${list('warmGetStateMs')}]`,
      `  full history read after that (${r.checkpoints} checkpoints)           ${fmt(r.historyMs)} ms  [${list('historyMs')}]`,
    )
  }
  for (const f of failures) out.push(`FAILED: ${f}`)
  return out.length > 0 ? out.join('\n') : '(not run)'
}

/** Long chats on IndexedDB: per-step time, bytes and full-history time against n, and the page's peak memory. */
export function formatScale(cases: BrowserCase[]): string {
  const rows = cases
    .filter((c) => c.engine === 'edgegraph' && c.workload === 'chat' && c.profile === 'in-memory' && c.idbDurability === 'default' && c.n >= 2000)
    .sort((a, b) => (a.durability < b.durability ? 1 : a.durability > b.durability ? -1 : a.n - b.n))
    .map((c) => [
      c.durability,
      String(c.n),
      triple(c),
      c.floorRatio === undefined || c.durability !== 'sync' ? '-' : `${c.floorRatio.toFixed(2)}x`,
      bytes(c.bytesStored),
      `${(c.bytesStored / c.payloadBytes).toFixed(2)}x`,
      fmt(c.bytesStored / c.n, 0),
      fmt(c.getStateMs),
      c.historyMs === null ? 'failed' : fmt(c.historyMs),
      fmt(perCheckpointUs(c), 1),
      `${fmt(c.runPeakHeapMb)} / ${fmt(c.peakHeapMb)}`,
      fmt(c.peakRssMb, 0),
    ])
  if (rows.length === 0) return '(not run: the full run has it)'
  const header = ['durability', 'n', 'mean/p50/p99 µs', 'mean/floor', 'stored', 'B/payload', 'B stored/step', 'getState ms', 'history ms', 'history µs/checkpoint', 'peak heap MB run / +history', 'peak RSS MB']
  const failed = cases.filter((c) => c.group === 'scale' && c.historyError !== undefined).map((c) => `full history, ${c.durability} n=${c.n}: ${c.historyError}`)
  return [render(header, rows, 2), ...failed, '', 'chat with 500-byte messages on IndexedDB (in-memory profile); n = 2000 comes from the main table. LangGraph.js is not run here:', "MemorySaver rewrites the whole list every step (about 1 GB for 2,000 steps), so 50,000 would not fit in the tab."].join('\n')
}

/** The issue's targets, judged on this run's figures (benchmark figures, not assertions). */
export function checkBrowserTargets(cases: BrowserCase[], restores: RestoreResult[]): Target[] {
  const targets: Target[] = []
  const add = (name: string, pass: boolean | null, detail: string) => targets.push({ name, pass, detail })
  const syncMain = cases.filter((c) => c.engine === 'edgegraph' && c.group === 'main' && c.durability === 'sync' && c.floorRatio !== undefined)
  const worst = syncMain.reduce<BrowserCase | undefined>((w, c) => (w === undefined || (c.floorRatio as number) > (w.floorRatio as number) ? c : w), undefined)
  add(
    'IndexedDB sync step mean <= 1.3 x the bare readwrite transaction in the same pages (every main case)',
    worst ? (worst.floorRatio as number) <= 1.3 : null,
    worst ? syncMain.map((c) => `${c.workload} ${c.n}: ${fmt(c.usPerStepMean)}/${fmt(c.floorUs)} µs = ${(c.floorRatio as number).toFixed(2)}x`).join('; ') : 'not run',
  )
  for (const profile of ['in-memory', 'disk'] as const) {
    const r = restores.find((x) => x.profile === profile)
    add(`cold restore of the ${r?.n ?? 2000}-step chat <= 1.3 x open + one getAll of the same bytes (${profile} profile)`, r ? r.ratio <= 1.3 : null, r ? `${fmt(r.restoreMs)} ms vs floor ${fmt(r.floorMs)} ms: ${r.ratio.toFixed(2)}x (median of ${r.reps} pages' ratios)` : 'not run')
  }
  const chat = findCase(cases, 'edgegraph', 'chat', 2000, 'sync')
  add('chat n=2000 on IndexedDB: bytes stored <= 1.3 x payload', chat ? chat.bytesStored <= 1.3 * chat.payloadBytes : null, chat ? `${bytes(chat.bytesStored)} = ${(chat.bytesStored / chat.payloadBytes).toFixed(3)} x payload` : 'not run')
  const scale = (n: number, d: string) => findCase(cases, 'edgegraph', 'chat', n, d)
  for (const d of ['sync', 'async']) {
    const [small, mid, big] = [scale(2000, d), scale(10000, d), scale(50000, d)]
    if (!small || !mid || !big) {
      add(`chat on IndexedDB (${d}): per-step mean at 50,000 <= 1.2 x at 2,000, bytes and history linear in n`, null, 'not run (the full run has it)')
      continue
    }
    const flat = big.usPerStepMean / small.usPerStepMean
    const perByte = (big.bytesStored / big.n) / (mid.bytesStored / mid.n)
    const [bigH, midH] = [perCheckpointUs(big), perCheckpointUs(mid)]
    const perCheckpoint = bigH === undefined || midH === undefined ? undefined : bigH / midH
    add(
      `chat on IndexedDB (${d}): per-step mean at 50,000 <= 1.2 x at 2,000, bytes and history linear in n`,
      flat <= 1.2 && perByte <= 1.1 && perCheckpoint !== undefined && perCheckpoint <= 1.2,
      `mean ${fmt(small.usPerStepMean)} -> ${fmt(mid.usPerStepMean)} -> ${fmt(big.usPerStepMean)} µs (${flat.toFixed(2)}x); bytes/step 50k vs 10k ${perByte.toFixed(2)}x; history per checkpoint 50k vs 10k ${perCheckpoint === undefined ? `not measured (${big.historyError ?? mid.historyError ?? 'failed'})` : `${perCheckpoint.toFixed(2)}x`}; peak heap ${fmt(big.runPeakHeapMb)} MB in the run`,
    )
  }
  return targets
}

/** What bench/browser.ts writes to results/browser-latest.json (the part the README tables read). */
export interface BrowserRecord {
  date: string
  chromium: string
  machine: { cpus: number; loadAvg?: number[] }
  mode: string
  reps: number
  warmupSteps: number
  cases: BrowserCase[]
  restores: RestoreResult[]
}

/** The README's browser tables, in Markdown, from a run's JSON: per-step time, storage, restore and scale. */
export function formatReadme(r: BrowserRecord): string {
  const f = (x: number | null | undefined) => (x === undefined || x === null || Number.isNaN(x) ? '–' : x >= 100 ? Math.round(x).toString() : x.toFixed(1))
  const t = (c: StepFigures | undefined) => (c ? `${f(c.usPerStepMean)} (${f(c.usPerStep)} / ${f(c.usPerStepP99)})` : '–')
  const x = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? '–' : `${(a / b).toFixed(2)}×`)
  const cases = r.cases
  const out = [
    `Figures from \`npm run bench:browser\` (headless Chromium ${r.chromium}, ${r.machine.cpus} cores, median of ${r.reps} fresh pages per case, ${r.warmupSteps}-step warm-up for both engines; JSON in \`bench/results/browser-latest.json\`). µs per step: mean over the whole \`invoke\`, database already open (p50 / p99 of the gaps between node calls); the floor is a bare readwrite transaction putting one value of the step's size, timed in the same pages.`,
    '',
    '| workload | N | sync µs/step | floor µs | sync / floor | async µs/step | LangGraph.js + MemorySaver µs/step (no persistence) | LangGraph / sync | LangGraph / async | readwrite tx / step (sync / async) | stored | stored / message bytes | getState ms | full history ms | peak JS heap MB (edgegraph / LangGraph) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const [workload, nText] of mainKeys(cases)) {
    const n = Number(nText)
    const sync = findCase(cases, 'edgegraph', workload, n, 'sync')
    const async_ = findCase(cases, 'edgegraph', workload, n, 'async')
    const lg = findCase(cases, 'langgraph', workload, n)
    out.push(
      `| ${workload} | ${n} | ${t(sync)} | ${f(sync?.floorUs)} | ${sync?.floorRatio === undefined ? '–' : `${sync.floorRatio.toFixed(2)}×`} | ${t(async_)} | ${t(lg)} | ${x(lg?.usPerStepMean, sync?.usPerStepMean)} | ${x(lg?.usPerStepMean, async_?.usPerStepMean)} | ${sync?.txReadwritePerStep?.toFixed(3) ?? '–'} / ${async_?.txReadwritePerStep?.toFixed(3) ?? '–'} | ${bytes(sync?.bytesStored)} | ${sync && workload !== 'counter' ? `${(sync.bytesStored / sync.payloadBytes).toFixed(2)}×` : '–'} | ${sync?.getStateMs.toFixed(1) ?? '–'} | ${f(sync?.historyMs)} | ${f(sync?.peakHeapMb)} / ${f(lg?.peakHeapMb)} |`,
    )
  }
  const scale = cases.filter((c) => c.engine === 'edgegraph' && c.workload === 'chat' && c.profile === 'in-memory' && c.idbDurability === 'default' && c.n >= 2000).sort((a, b) => (a.durability < b.durability ? 1 : a.durability > b.durability ? -1 : a.n - b.n))
  if (scale.some((c) => c.group === 'scale')) {
    out.push('', '| chat on IndexedDB | N | µs/step | sync / floor | stored | stored / message bytes | getState ms | full history ms | history µs / checkpoint | peak JS heap MB, run (with the history read) | peak renderer RSS MB |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    for (const c of scale) {
      out.push(
        `| ${c.durability} | ${c.n} | ${t(c)} | ${c.durability === 'sync' && c.floorRatio !== undefined ? `${c.floorRatio.toFixed(2)}×` : '–'} | ${bytes(c.bytesStored)} | ${(c.bytesStored / c.payloadBytes).toFixed(2)}× | ${f(c.getStateMs)} | ${c.historyMs === null ? 'failed¹' : f(c.historyMs)} | ${f(perCheckpointUs(c))} | ${f(c.runPeakHeapMb)} (${f(c.peakHeapMb)}) | ${f(c.peakRssMb)} |`,
      )
    }
  }
  const failed = scale.filter((c) => c.historyError !== undefined)
  for (const n of new Set(failed.map((c) => c.n))) {
    const of = failed.filter((c) => c.n === n)
    // "k of m pages: <first page's error>; not read after page 1 failed (...)": the first page's error says it.
    const why = (of[0]?.historyError ?? '').replace(/^\d+ of \d+ pages: /, '').split('; not read after')[0] ?? ''
    out.push('', `¹ Full history not measured at N = ${n} (${of.map((c) => c.durability).join(', ')}): ${why.replace(/^full history: /, '')} in the first page; the other pages did not try.`)
  }
  for (const rs of r.restores) {
    out.push('', `Cold restore, ${rs.profile === 'disk' ? 'disk-backed profile' : "harness's in-memory profile"}: ${rs.n}-step chat (${bytes(rs.bytesStored)} in ${rs.records} records), ${rs.reps} fresh pages: restore ${f(rs.restoreMs)} ms, floor (open a copy, one getAll) ${f(rs.floorMs)} ms, ratio ${rs.ratio.toFixed(2)}× (median of the pages' ratios); a second getState in the same page ${f(rs.warmGetStateMs)} ms.`)
  }
  return out.join('\n')
}
