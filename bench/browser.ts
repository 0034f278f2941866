/** Browser benchmark driver: edgegraph + IndexedDB and LangGraph.js + MemorySaver in real Chromium, floors in the same pages; tables, targets, JSON. */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { startHarness, type Harness } from '../test/chromium/harness.js'
import { median, round } from './common.js'
import { formatTargets } from './report.js'
import { payloadBytes, type Workload } from './workloads.js'
import type { Page } from 'playwright'
import { diskProfile, harnessSource, inFreshPage, isolate, within, type PageSource } from './browser-pages.js'
import { checkBrowserTargets, formatDurabilityTable, formatReadme, formatRestore, formatScale, formatStepTable, formatStorageTable, type BrowserCase, type BrowserRecord, type Profile, type RestoreResult } from './browser-report.js'
import type { PageCase, PageSample, RestoreSample } from './browser-page.js'
import type { LangGraphSample } from './browser-langgraph-page.js'

// `--readme`: print the README's tables from the last full run's JSON, without running anything.
if (process.argv.includes('--readme')) {
  console.log(formatReadme(JSON.parse(await readFile(new URL('results/browser-latest.json', import.meta.url), 'utf8')) as BrowserRecord))
  process.exit(0)
}

const quick = process.argv.includes('--quick')
const REPS = 3 // medians of three fresh pages, in the quick run too: one page says little on a shared machine
const RESTORE_REPS = quick ? 4 : 8 // even: half the pages restore first, half read the floor first
const RESTORE_N = 2000
const WARMUP_STEPS = 200
const FLOOR_TX = 400
const SIZES: Record<'counter' | 'chat', number[]> = quick ? { counter: [1000], chat: [500] } : { counter: [100, 1000], chat: [100, 500, 2000] }
/** Long chats on IndexedDB (full run only, or `--scale=n,n`): per-step time, bytes and history against n. */
const scaleArg = process.argv.find((a) => a.startsWith('--scale='))?.slice(8)
const SCALE_N = scaleArg !== undefined ? scaleArg.split(',').map(Number).filter((n) => n > 0) : quick ? [] : [10_000, 50_000]
/** Extra rows: these sync cases under explicit IndexedDB durability hints, and on an on-disk profile. */
const HINTED: [Workload, number][] = quick ? [['chat', 500]] : [['counter', 1000], ['chat', 500]]
const LG_STORE = 'MemorySaver (in-memory, no persistence)'

type Plan = { kind: 'eg'; group: BrowserCase['group']; profile: Profile; c: PageCase } | { kind: 'lg'; workload: Workload; n: number }

const started = Date.now()
const failures: string[] = []
const cases: (BrowserCase & { reps: number; samples: BrowserCase[] })[] = []
const restores: RestoreResult[] = []
const restoreFailures: string[] = []

// ---- plan -----------------------------------------------------------------------------------------------

const eg = (group: BrowserCase['group'], profile: Profile, c: Omit<PageCase, 'warmupSteps' | 'floorTx'>): Plan => ({ kind: 'eg', group, profile, c: { ...c, warmupSteps: WARMUP_STEPS, floorTx: FLOOR_TX } })
const plans: Plan[] = []
for (const workload of ['counter', 'chat'] as const) {
  for (const n of SIZES[workload]) for (const durability of ['sync', 'async'] as const) plans.push(eg('main', 'in-memory', { workload, n, durability }))
}
for (const profile of ['in-memory', 'disk'] as const) {
  for (const [workload, n] of HINTED) {
    for (const idbDurability of [undefined, 'relaxed', 'strict'] as const) {
      // In memory the default is a main case already, and relaxed is what Chromium's default means (checked on disk).
      if (profile === 'in-memory' && idbDurability !== 'strict') continue
      if (quick && idbDurability === 'relaxed') continue
      plans.push(eg('hint', profile, { workload, n, durability: 'sync', ...(idbDurability ? { idbDurability } : {}) }))
    }
  }
}
const scalePlans: Plan[] = SCALE_N.flatMap((n) => (['sync', 'async'] as const).map((durability) => eg('scale', 'in-memory', { workload: 'chat', n, durability, progressEvery: n / 10 })))
const lgPlans: Plan[] = (['counter', 'chat'] as const).flatMap((workload) => SIZES[workload].map((n): Plan => ({ kind: 'lg', workload, n })))
const total = (plans.length + scalePlans.length + lgPlans.length) * REPS + 2 * (1 + RESTORE_REPS)
let done = 0
const label = (what: string) => `[${++done}/${total}] ${what}`
const progress = (s: string) => process.stderr.write(`${s}\n`)

// ---- records --------------------------------------------------------------------------------------------

/** The per-metric median of the repetitions of one case (each metric on its own, as bench/run.ts does). */
function medianOf(samples: BrowserCase[]): BrowserCase & { reps: number; samples: BrowserCase[] } {
  const first = samples[0] as BrowserCase
  // A figure some pages could not give (a failed history read) is the median of the pages that gave it.
  const numeric = Object.keys(first).filter((k) => samples.some((s) => typeof s[k as keyof BrowserCase] === 'number'))
  const med = Object.fromEntries(
    numeric.map((k) => {
      const xs = samples.map((s) => s[k as keyof BrowserCase]).filter((x): x is number => typeof x === 'number' && !Number.isNaN(x))
      return [k, xs.length > 0 ? round(median(xs), 3) : null]
    }),
  )
  const errors = [...new Set(samples.flatMap((s) => (s.historyError === undefined ? [] : [s.historyError])))]
  if (errors.length > 0) Object.assign(med, { historyError: `${samples.filter((s) => s.historyError !== undefined).length} of ${samples.length} pages: ${errors.join('; ')}` })
  return { ...first, ...med, reps: samples.length, samples }
}

const mb = (x: number | null) => (x === null ? null : round(x))

function egRecord(group: BrowserCase['group'], profile: Profile, c: PageCase, s: RunSample, mem: { peakRssMb: number | null; peakHeapMb: number | null }): BrowserCase {
  const hint = c.idbDurability ?? 'default'
  return {
    ...(s.historyError === undefined ? {} : { historyError: s.historyError }),
    engine: 'edgegraph',
    store: `indexeddb (${profile} profile, ${hint} durability)`,
    workload: c.workload,
    n: c.n,
    group,
    usPerStepMean: round(s.usPerStepMean),
    usPerStep: round(s.usPerStep),
    usPerStepP99: round(s.usPerStepP99),
    bytesStored: s.bytesStored,
    payloadBytes: payloadBytes(c.workload, c.n),
    getStateMs: round(s.getStateMs, 3),
    historyMs: round(s.historyMs, 3),
    runMs: round(s.runMs),
    checkpoints: s.checkpoints,
    profile,
    durability: c.durability,
    idbDurability: hint,
    // A tab that crashed took its process along: the high-water mark read afterwards is another renderer's.
    peakRssMb: s.historyError?.includes('crashed') ? null : mb(mem.peakRssMb),
    peakHeapMb: mb(mem.peakHeapMb),
    runPeakHeapMb: mb(s.runPeakHeapMb),
    txReadwrite: s.tx.run.readwrite,
    txReadwritePerStep: round(s.tx.run.readwrite / c.n, 4),
    txReadonly: s.tx.run.readonly,
    commits: s.commits,
    packCommits: s.packCommits,
    bytesPerCommit: round(s.bytesPerCommit),
    floorUs: round(s.floor.mean),
    floorP50Us: round(s.floor.p50),
    floorP99Us: round(s.floor.p99),
    floorValueBytes: s.floor.valueBytes,
    floorRatio: round(s.usPerStepMean / s.floor.mean, 3),
  }
}

function lgRecord(workload: Workload, n: number, s: LangGraphSample, mem: { peakRssMb: number | null; peakHeapMb: number | null }): BrowserCase {
  return {
    engine: 'langgraph',
    store: LG_STORE,
    workload,
    n,
    group: 'main',
    usPerStepMean: round(s.usPerStepMean),
    usPerStep: round(s.usPerStep),
    usPerStepP99: round(s.usPerStepP99),
    bytesStored: s.bytesStored,
    payloadBytes: payloadBytes(workload, n),
    getStateMs: round(s.getStateMs, 3),
    historyMs: round(s.historyMs, 3),
    runMs: round(s.runMs),
    checkpoints: s.checkpoints,
    profile: 'in-memory',
    durability: 'default',
    idbDurability: 'n/a',
    peakRssMb: mb(mem.peakRssMb),
    peakHeapMb: mb(mem.peakHeapMb),
  }
}

// ---- runs -----------------------------------------------------------------------------------------------

async function runPlan(source: PageSource, plan: Plan): Promise<void> {
  const samples: BrowserCase[] = []
  // After a page failed to read the whole history (out of memory), later pages of the case do not try again.
  let skipHistory: string | undefined
  for (let rep = 1; rep <= REPS; rep++) {
    if (plan.kind === 'eg') {
      const { c, profile } = plan
      const name = `edgegraph ${c.workload} n=${c.n} ${c.durability} (${profile} profile${c.idbDurability ? `, idb ${c.idbDurability}` : ''}) rep ${rep}`
      // A 50,000-step chat takes minutes on a shared machine.
      const r = await inFreshPage(source, label(name), (page, peak) => runAndHistory(page, c, skipHistory, peak), failures, { timeoutMs: Math.max(180_000, c.n * 20) })
      if (r?.value.historyError !== undefined) skipHistory ??= `not read after page ${rep} failed (${r.value.historyError})`
      if (r) samples.push(egRecord(plan.group, profile, c, r.value, r))
    } else {
      const { workload, n } = plan
      const r = await inFreshPage(source, label(`langgraph ${workload} n=${n} MemorySaver rep ${rep}`), (page) => page.evaluate((c) => window.lg.run(c), { workload, n, warmupSteps: WARMUP_STEPS }), failures)
      if (r) samples.push(lgRecord(workload, n, r.value, r))
    }
  }
  if (samples.length > 0) cases.push(medianOf(samples))
}

/** One page's figures: the run's, its peak heap up to the end of the run (before the history read), the history's. */
type RunSample = PageSample & { runPeakHeapMb: number | null; historyError?: string }

/**
 * The timed run, then its full history in a second call: where reading every state runs the tab out of memory (or
 * time), the run's figures stand and the history is reported as failed.
 */
async function runAndHistory(page: Page, c: PageCase, skipHistory: string | undefined, peakHeapSoFar: () => number | null): Promise<RunSample> {
  const run = { ...(await page.evaluate((pc) => window.bench.run(pc), c)), runPeakHeapMb: peakHeapSoFar() }
  if (skipHistory !== undefined) return { ...run, historyMs: Number.NaN, checkpoints: Number.NaN, historyError: skipHistory }
  let crashed: () => void = () => {}
  const crash = new Promise<never>((_, reject) => (crashed = () => reject(new Error('the tab crashed (out of memory?)'))))
  page.once('crash', crashed)
  try {
    const history = await within(Promise.race([page.evaluate(() => window.bench.history()), crash]), 30_000 + c.n, 'full history')
    return { ...run, ...history, tx: { ...run.tx, history: history.tx } }
  } catch (err) {
    const historyError = (err as Error).message.split('\n')[0] ?? String(err)
    process.stderr.write(`  full history of n=${c.n} failed: ${historyError}\n`)
    return { ...run, historyMs: Number.NaN, checkpoints: Number.NaN, historyError }
  } finally {
    page.off('crash', crashed)
  }
}

/** One page writes a 2000-step chat (and a copy of its records for the floor), then each fresh page reads both back. */
async function runRestore(source: PageSource, profile: Profile): Promise<void> {
  const db = `restore-${Date.now()}`
  const written = await inFreshPage(source, label(`restore (${profile} profile): write ${RESTORE_N}-step chat`), (page) => page.evaluate(([d, n]) => window.bench.write(d, n), [db, RESTORE_N] as const), failures)
  if (!written) return void restoreFailures.push(`${profile} profile: writing the thread failed`)
  const samples: RestoreSample[] = []
  for (let rep = 1; rep <= RESTORE_REPS; rep++) {
    const order = rep % 2 === 1 ? 'restore-first' : 'floor-first'
    const r = await inFreshPage(source, label(`restore (${profile} profile): fresh page ${rep}, ${order}`), (page) => page.evaluate(() => window.bench.restored()), failures, {
      path: `/?restore=${db}&n=${RESTORE_N}&order=${order}`,
      heap: false,
    })
    if (r) samples.push(r.value)
  }
  if (samples.length === 0) return void restoreFailures.push(`${profile} profile: every restore page failed`)
  const med = (xs: RestoreSample[], k: keyof RestoreSample) => round(median(xs.map((s) => s[k] as number)), 2)
  restores.push({
    profile,
    n: RESTORE_N,
    reps: samples.length,
    writeMs: round(written.value.ms),
    bytesStored: written.value.bytes,
    records: written.value.records,
    restoreMs: med(samples, 'restoreMs'),
    floorMs: med(samples, 'floorMs'),
    ratio: round(median(samples.map((s) => s.restoreMs / s.floorMs)), 3),
    byOrder: (['restore-first', 'floor-first'] as const).map((order) => {
      const of = samples.filter((s) => s.order === order)
      return { order, pages: of.length, restoreMs: med(of, 'restoreMs'), floorMs: med(of, 'floorMs') }
    }),
    scriptStartMs: med(samples, 'scriptStartMs'),
    navToStateMs: med(samples, 'navToStateMs'),
    warmGetStateMs: med(samples, 'warmGetStateMs'),
    historyMs: med(samples, 'historyMs'),
    checkpoints: samples[0]?.checkpoints ?? 0,
    samples: samples.map((s) => ({ order: s.order, restoreMs: round(s.restoreMs, 2), floorMs: round(s.floorMs, 2), navToStateMs: round(s.navToStateMs, 2), warmGetStateMs: round(s.warmGetStateMs, 2), historyMs: round(s.historyMs, 2) })),
  })
}

progress(`bench:browser${quick ? ' (quick)' : ''}: bundling the edgegraph page and starting Chromium`)
const egHarness = await startHarness({ entry: new URL('./browser-page.ts', import.meta.url), ready: 'bench' })
const browserVersion = egHarness.browser.version()
try {
  const disk = await diskProfile(egHarness.origin, 'bench')
  try {
    const unroute = [await isolate(egHarness.context), await isolate(disk.context)]
    const sources: Record<Profile, PageSource> = { 'in-memory': harnessSource(egHarness), disk }
    for (const plan of plans) await runPlan(sources[plan.kind === 'eg' ? plan.profile : 'in-memory'], plan)
    for (const undo of unroute) await undo() // restore pages time their own load: no interception on the way
    await runRestore(sources['in-memory'], 'in-memory')
    await runRestore(disk, 'disk')
    if (scalePlans.length > 0) {
      const undo = await isolate(egHarness.context)
      progress(`scale: chat n=${SCALE_N.join(', ')} on IndexedDB, sync and async, ${REPS} fresh pages each (minutes)`)
      for (const plan of scalePlans) await runPlan(sources['in-memory'], plan)
      await undo()
    }
  } finally {
    await disk.close()
  }
} finally {
  await egHarness.close()
}

// LangGraph.js in its own page bundle, so its 2.7 MB do not weigh on edgegraph's page loads.
let langgraph: { ok: true } | { ok: false; reason: string } = { ok: true }
let lg: Harness | undefined
try {
  progress('bundling @langchain/langgraph/web for the LangGraph page and starting Chromium')
  lg = await startHarness({ entry: new URL('./browser-langgraph-page.ts', import.meta.url), ready: 'lg' })
} catch (err) {
  langgraph = { ok: false, reason: `LangGraph.js could not be bundled or loaded in the page: ${(err as Error).message.split('\n')[0]}` }
  progress(langgraph.reason)
  done += lgPlans.length * REPS
}
if (lg) {
  try {
    await isolate(lg.context)
    for (const plan of lgPlans) await runPlan(harnessSource(lg), plan)
  } finally {
    await lg.close()
  }
}

// ---- report ---------------------------------------------------------------------------------------------

const targets = checkBrowserTargets(cases, restores)
const elapsedS = Math.round((Date.now() - started) / 1000)
console.log(`edgegraph + IndexedDB vs LangGraph.js (MemorySaver) in headless Chromium ${browserVersion}, ${os.cpus().length} cpus, median of ${REPS} fresh pages per case, ${WARMUP_STEPS}-step warm-up for both${quick ? ' (quick run)' : ''}`)
console.log(formatStepTable(cases))
console.log('')
console.log(formatStorageTable(cases))
if (!langgraph.ok) console.log(`\nLangGraph.js: ${langgraph.reason}`)
console.log('\nIndexedDB transaction durability hint and profile (sync durability; "default" = what Chromium picks)')
console.log(formatDurabilityTable(cases))
console.log('\nrestore after a page load')
console.log(formatRestore(restores, restoreFailures))
console.log('\nscale')
console.log(formatScale(cases))
console.log('\ntargets (benchmark figures, not assertions)')
console.log(formatTargets(targets))
if (failures.length > 0) console.log(`\nFAILED cases:\n- ${failures.join('\n- ')}`)
console.log(`\ntotal ${elapsedS} s`)

// A quick run goes to a git-ignored file so it never replaces the full run's figures.
const root = fileURLToPath(new URL('..', import.meta.url))
const out = fileURLToPath(new URL(quick ? 'results/browser-quick.tmp.json' : 'results/browser-latest.json', import.meta.url))
await mkdir(fileURLToPath(new URL('results/', import.meta.url)), { recursive: true })
const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', totalMemGb: Math.round(os.totalmem() / 2 ** 30), loadAvg: os.loadavg().map((x) => round(x, 2)) }
const record = { date: new Date().toISOString(), node: process.version, chromium: browserVersion, machine, mode: quick ? 'quick' : 'full', reps: REPS, warmupSteps: WARMUP_STEPS, floorTx: FLOOR_TX, elapsedS, cases, restores, langgraph, targets, failures }
await writeFile(out, JSON.stringify(record, null, 2) + '\n')
console.log(`results: ${out.replace(root, '')}`)
if (failures.length > 0) process.exitCode = 1
