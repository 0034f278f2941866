/** Formats the browser bench: the per-step table, the IndexedDB durability-hint table, the restore figures and targets. */
import type { Target } from './report.js'
import type { Workload } from './workloads.js'

/**
 * Where IndexedDB lives: `in-memory` = the harness' off-the-record browser context (Chromium keeps its IndexedDB
 * in memory, nothing is flushed); `disk` = a persistent profile in a temp directory, as a normal browser has.
 */
export type Profile = 'in-memory' | 'disk'

/** Median time of one bare IndexedDB readwrite transaction putting 600 bytes: the floor under a sync step. */
export interface Floor {
  profile: Profile
  idbDurability: string
  msPerTx: number
  transactions: number
  reps: number
}

/** One case of the browser bench, in bench/run.ts' record format plus browser extras. Times in ms unless named. */
export interface BrowserCase {
  engine: 'edgegraph' | 'langgraph'
  store: string
  workload: Workload
  n: number
  usPerStep: number
  bytesStored: number
  payloadBytes: number
  getStateMs: number
  historyMs: number
  /** VmHWM of the tab's renderer process, read from /proc (null when it could not be read). */
  peakRssMb: number | null
  profile: Profile
  /** edgegraph run-config durability (LangGraph: its default). */
  durability: string
  /** IndexedDB transaction durability hint ("default" = the browser's). */
  idbDurability: string
  usPerStepMean: number
  runMs: number
  /** runMs / n: with async durability the node gaps hide commits still queued; this does not. */
  wallUsPerStep: number
  checkpoints: number
  /** IndexedDB transactions during the timed invoke (edgegraph only). */
  txReadwrite?: number
  txReadonly?: number
  txReadwritePerStep?: number
  txReadonlyGetState?: number
  txReadonlyHistory?: number
  commits?: number
  packCommits?: number
  jsHeapMb: number
}

export interface RestoreResult {
  profile: Profile
  n: number
  reps: number
  writeMs: number
  bytesStored: number
  /** Medians over the fresh pages. */
  scriptToStateMs: number
  navToStateMs: number
  scriptStartMs: number
  warmGetStateMs: number
  historyMs: number
  checkpoints: number
  samples: { scriptToStateMs: number; navToStateMs: number; scriptStartMs: number; warmGetStateMs: number; historyMs: number }[]
}

const fmt = (x: number | null | undefined, digits = 1) => (x === undefined || x === null || Number.isNaN(x) ? '-' : x >= 100 ? Math.round(x).toString() : x.toFixed(digits))
const perStep = (count: number | undefined, n: number) => (count === undefined ? '-' : (count / n).toFixed(3))
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? '-' : `${fmt(a / b)}x`)
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

const find = (cases: BrowserCase[], engine: string, workload: string, n: number, durability?: string, idb = 'default', profile: Profile = 'in-memory') =>
  cases.find((c) => c.engine === engine && c.workload === workload && c.n === n && (engine === 'langgraph' || (c.durability === durability && c.idbDurability === idb && c.profile === profile)))

/** One row per (workload, n): edgegraph on IndexedDB (sync and async durability) beside LangGraph.js on MemorySaver. */
export function formatBrowserTable(cases: BrowserCase[]): string {
  const header = ['workload', 'n', 'us/step eg sync', 'us/step eg async', 'us/step lg mem', 'lg/eg sync', 'lg/eg async', 'wall us/step eg sync', 'wall us/step eg async', 'rw tx/step sync', 'rw tx/step async', 'ro tx/step sync/async', 'pack commits', 'stored eg', 'B/payload eg', 'stored lg', 'getState ms eg', 'getState ms lg', 'history ms eg', 'history ms lg', 'peak RSS MB eg', 'peak RSS MB lg']
  const main = cases.filter((c) => c.engine === 'langgraph' || (c.profile === 'in-memory' && c.idbDurability === 'default'))
  const keys = [...new Set(main.map((c) => `${c.workload} ${c.n}`))]
  const rows = keys.map((key) => {
    const [workload, nText] = key.split(' ') as [string, string]
    const n = Number(nText)
    const sync = find(cases, 'edgegraph', workload, n, 'sync')
    const async_ = find(cases, 'edgegraph', workload, n, 'async')
    const lg = find(cases, 'langgraph', workload, n)
    const eg = sync ?? async_
    return [
      workload,
      nText,
      fmt(sync?.usPerStep),
      fmt(async_?.usPerStep),
      fmt(lg?.usPerStep),
      ratio(lg?.usPerStep, sync?.usPerStep),
      ratio(lg?.usPerStep, async_?.usPerStep),
      fmt(sync?.wallUsPerStep),
      fmt(async_?.wallUsPerStep),
      fmt(sync?.txReadwritePerStep, 3),
      fmt(async_?.txReadwritePerStep, 3),
      `${perStep(sync?.txReadonly, n)}/${perStep(async_?.txReadonly, n)}`,
      fmt(sync?.packCommits, 0),
      bytes(eg?.bytesStored),
      eg && workload === 'chat' ? `${(eg.bytesStored / eg.payloadBytes).toFixed(2)}x` : '-',
      bytes(lg?.bytesStored),
      fmt(eg?.getStateMs, 2),
      fmt(lg?.getStateMs, 2),
      fmt(eg?.historyMs),
      fmt(lg?.historyMs),
      fmt(eg?.peakRssMb, 0),
      fmt(lg?.peakRssMb, 0),
    ]
  })
  const legend = [
    'eg = edgegraph + IndexedDB adapter (harness context: off the record, so Chromium keeps IndexedDB in memory; default transaction durability),',
    'every checkpoint committed; lg = LangGraph.js + MemorySaver (in-memory, no persistence) in the same Chromium build.',
    'sync/async = edgegraph run-config durability. lg/eg = how many times longer LangGraph takes per step.',
    'us/step = median gap between consecutive node calls; wall = invoke time / n (includes async commits still queued at the end).',
    'rw/ro tx/step = readwrite/readonly IndexedDB transactions per step in the timed run (rw: one per checkpoint plus pack commits;',
    "ro: the head read at start plus one scan per pack attempt). pack commits, stored (keys + values), getState, history: eg's sync run.",
    "peak RSS = high-water mark of the tab's renderer process. KB/MB are 1024-based.",
  ]
  return [render(header, rows, 2), '', ...legend].join('\n')
}

/** The hinted sync cases per profile and IndexedDB durability hint, and the bare-transaction floor under them. */
export function formatDurabilityTable(cases: BrowserCase[], floors: Floor[]): string {
  const hinted = cases.filter((c) => c.engine === 'edgegraph' && c.durability === 'sync' && (c.profile === 'disk' || c.idbDurability !== 'default'))
  const keys = [...new Set(hinted.map((c) => `${c.workload} ${c.n}`))]
  const rows: string[][] = []
  for (const profile of ['in-memory', 'disk'] as const) {
    for (const key of keys) {
      const [workload, nText] = key.split(' ') as [string, string]
      const base = find(cases, 'edgegraph', workload, Number(nText), 'sync', 'default', profile)
      for (const hint of ['default', 'relaxed', 'strict']) {
        const c = find(cases, 'edgegraph', workload, Number(nText), 'sync', hint, profile)
        if (c) rows.push([profile, `${workload} n=${nText}`, hint, fmt(c.usPerStep), fmt(c.wallUsPerStep), ratio(c.usPerStep, base?.usPerStep)])
      }
    }
    for (const f of floors.filter((x) => x.profile === profile)) {
      const base = floors.find((x) => x.profile === profile && x.idbDurability === 'default')
      rows.push([profile, 'bare readwrite tx, 600 B put', f.idbDurability, fmt(f.msPerTx * 1000), '-', ratio(f.msPerTx, base?.msPerTx)])
    }
  }
  if (rows.length === 0) return '(not run)'
  return render(['profile', 'case', 'IDB durability', 'us/step', 'wall us/step', 'vs default'], rows, 3)
}

export function formatRestore(restores: RestoreResult[], failures: string[]): string {
  const out: string[] = []
  for (const r of restores) {
    const list = (k: keyof RestoreResult['samples'][number]) => r.samples.map((s) => fmt(s[k])).join(' ')
    out.push(
      `${r.profile} profile: ${r.n}-step chat, ${bytes(r.bytesStored)} stored, written once in ${fmt(r.writeMs)} ms (async durability); ${r.reps} fresh pages, median [each]:`,
      `  script start -> state (library: open DB, read, rebuild)  ${fmt(r.scriptToStateMs)} ms  [${list('scriptToStateMs')}]`,
      `  navigation start -> state (incl. page + bundle load)      ${fmt(r.navToStateMs)} ms  [${list('navToStateMs')}]`,
      `  navigation start -> script start                          ${fmt(r.scriptStartMs)} ms`,
      `  second getState in the same page (DB open, code warm)     ${fmt(r.warmGetStateMs)} ms  [${list('warmGetStateMs')}]`,
      `  full history read after that (${r.checkpoints} checkpoints)           ${fmt(r.historyMs)} ms  [${list('historyMs')}]`,
    )
  }
  for (const f of failures) out.push(`FAILED: ${f}`)
  return out.length > 0 ? out.join('\n') : '(not run)'
}

export function checkBrowserTargets(cases: BrowserCase[], restores: RestoreResult[]): Target[] {
  const restore = restores.find((r) => r.profile === 'in-memory')
  const disk = restores.find((r) => r.profile === 'disk')
  const chat = find(cases, 'edgegraph', 'chat', 2000, 'sync')
  const name1 = 'chat n=2000 on IndexedDB: bytes stored <= 1.3 x payload'
  const name2 = 'restore 2000-step chat: script start -> state <= 30 ms median'
  return [
    chat ? { name: name1, pass: chat.bytesStored <= 1.3 * chat.payloadBytes, detail: `${bytes(chat.bytesStored)} = ${(chat.bytesStored / chat.payloadBytes).toFixed(3)} x payload` } : { name: name1, pass: null, detail: 'not run' },
    restore
      ? { name: name2, pass: restore.scriptToStateMs <= 30, detail: `${fmt(restore.scriptToStateMs)} ms (navigation start -> state ${fmt(restore.navToStateMs)} ms; disk profile ${fmt(disk?.scriptToStateMs)} / ${fmt(disk?.navToStateMs)} ms)` }
      : { name: name2, pass: null, detail: 'not run' },
  ]
}
