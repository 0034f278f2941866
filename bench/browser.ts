/** Browser benchmark driver: edgegraph + IndexedDB and LangGraph.js + MemorySaver in real Chromium; table, targets, JSON. */
import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { startHarness, type Harness } from '../test/chromium/harness.js'
import { median, round } from './common.js'
import { formatTargets } from './report.js'
import { payloadBytes, type Workload } from './workloads.js'
import { diskProfile, harnessSource, inFreshPage, isolate, type PageSource } from './browser-pages.js'
import { checkBrowserTargets, formatBrowserTable, formatDurabilityTable, formatRestore, type BrowserCase, type Floor, type Profile, type RestoreResult } from './browser-report.js'
import type { PageCase, PageSample, RestoreSample } from './browser-page.js'
import type { LangGraphSample } from './browser-langgraph-page.js'

const quick = process.argv.includes('--quick')
const REPS = quick ? 1 : 3
const RESTORE_REPS = quick ? 5 : 7
const RESTORE_N = 2000
const WARMUP_STEPS = 200
const FLOOR_TX = 500
const SIZES: Record<'counter' | 'chat', number[]> = quick ? { counter: [100, 1000], chat: [100, 500] } : { counter: [100, 1000], chat: [100, 500, 2000] }
/** Extra rows: these sync cases under explicit IndexedDB durability hints, and on an on-disk profile. */
const HINTED: [Workload, number][] = [['counter', 1000], ['chat', 500]]
const LG_STORE = 'MemorySaver (in-memory, no persistence)'

type Plan = { kind: 'eg'; profile: Profile; c: PageCase } | { kind: 'lg'; workload: Workload; n: number } | { kind: 'floor'; profile: Profile; idb: IDBTransactionDurability | undefined }

const started = Date.now()
const failures: string[] = []
const cases: (BrowserCase & { reps: number; samples: BrowserCase[] })[] = []
const floors: Floor[] = []
const restores: RestoreResult[] = []
const restoreFailures: string[] = []

// ---- plan -----------------------------------------------------------------------------------------------

const plans: Plan[] = []
for (const workload of ['counter', 'chat'] as const) {
  for (const n of SIZES[workload]) for (const durability of ['sync', 'async'] as const) plans.push({ kind: 'eg', profile: 'in-memory', c: { workload, n, durability, warmupSteps: WARMUP_STEPS } })
}
for (const profile of ['in-memory', 'disk'] as const) {
  for (const [workload, n] of HINTED) {
    for (const idbDurability of [undefined, 'relaxed', 'strict'] as const) {
      // In memory the default is a main case already, and relaxed is what Chromium's default means (checked on disk).
      if (profile === 'in-memory' && idbDurability !== 'strict') continue
      plans.push({ kind: 'eg', profile, c: { workload, n, durability: 'sync', ...(idbDurability ? { idbDurability } : {}), warmupSteps: WARMUP_STEPS } })
    }
  }
  for (const idb of [undefined, 'strict'] as const) plans.push({ kind: 'floor', profile, idb })
}
const lgPlans: Plan[] = (['counter', 'chat'] as const).flatMap((workload) => SIZES[workload].map((n): Plan => ({ kind: 'lg', workload, n })))
const total = (plans.length + lgPlans.length) * REPS + 2 * (1 + RESTORE_REPS)
let done = 0
const label = (what: string) => `[${++done}/${total}] ${what}`
const progress = (s: string) => process.stderr.write(`${s}\n`)

// ---- records --------------------------------------------------------------------------------------------

/** The per-metric median of the repetitions of one case (each metric on its own, as bench/run.ts does). */
function medianOf(samples: BrowserCase[]): BrowserCase & { reps: number; samples: BrowserCase[] } {
  const first = samples[0] as BrowserCase
  const numeric = Object.entries(first).filter(([, v]) => typeof v === 'number')
  const med = Object.fromEntries(numeric.map(([k]) => [k, round(median(samples.map((s) => s[k as keyof BrowserCase] as number)), 3)]))
  return { ...first, ...med, reps: samples.length, samples }
}

function egRecord(profile: Profile, c: PageCase, s: PageSample, peakRssMb: number | null): BrowserCase {
  const hint = c.idbDurability ?? 'default'
  return {
    engine: 'edgegraph',
    store: `indexeddb (${profile} profile, ${hint} durability)`,
    workload: c.workload,
    n: c.n,
    usPerStep: round(s.usPerStep),
    bytesStored: s.bytesStored,
    payloadBytes: payloadBytes(c.workload, c.n),
    getStateMs: round(s.getStateMs, 3),
    historyMs: round(s.historyMs, 3),
    peakRssMb: peakRssMb === null ? null : round(peakRssMb),
    profile,
    durability: c.durability,
    idbDurability: hint,
    usPerStepMean: round(s.usPerStepMean),
    runMs: round(s.runMs),
    wallUsPerStep: round((s.runMs * 1000) / c.n),
    checkpoints: s.checkpoints,
    txReadwrite: s.tx.run.readwrite,
    txReadonly: s.tx.run.readonly,
    txReadwritePerStep: round(s.tx.run.readwrite / c.n, 4),
    txReadonlyGetState: s.tx.getState.readonly,
    txReadonlyHistory: s.tx.history.readonly,
    commits: s.commits,
    packCommits: s.packCommits,
    jsHeapMb: round(s.jsHeapMb),
  }
}

function lgRecord(workload: Workload, n: number, s: LangGraphSample, peakRssMb: number | null): BrowserCase {
  const { usPerStep, usPerStepMean, runMs, bytesStored, getStateMs, historyMs, checkpoints, jsHeapMb } = s
  return {
    engine: 'langgraph',
    store: LG_STORE,
    workload,
    n,
    usPerStep: round(usPerStep),
    bytesStored,
    payloadBytes: payloadBytes(workload, n),
    getStateMs: round(getStateMs, 3),
    historyMs: round(historyMs, 3),
    peakRssMb: peakRssMb === null ? null : round(peakRssMb),
    profile: 'in-memory',
    durability: 'default',
    idbDurability: 'n/a',
    usPerStepMean: round(usPerStepMean),
    runMs: round(runMs),
    wallUsPerStep: round((runMs * 1000) / n),
    checkpoints,
    jsHeapMb: round(jsHeapMb),
  }
}

// ---- runs -----------------------------------------------------------------------------------------------

async function runPlan(source: PageSource, plan: Plan): Promise<void> {
  const samples: BrowserCase[] = []
  const floorMs: number[] = []
  for (let rep = 1; rep <= REPS; rep++) {
    if (plan.kind === 'eg') {
      const { c, profile } = plan
      const name = `edgegraph ${c.workload} n=${c.n} ${c.durability} (${profile} profile${c.idbDurability ? `, idb ${c.idbDurability}` : ''}) rep ${rep}`
      const r = await inFreshPage(source, label(name), (page) => page.evaluate((pc) => window.bench.run(pc), c), failures)
      if (r) samples.push(egRecord(profile, c, r.value, r.peakRssMb))
    } else if (plan.kind === 'lg') {
      const { workload, n } = plan
      const r = await inFreshPage(source, label(`langgraph ${workload} n=${n} MemorySaver rep ${rep}`), (page) => page.evaluate((c) => window.lg.run(c), { workload, n, warmupSteps: WARMUP_STEPS }), failures)
      if (r) samples.push(lgRecord(workload, n, r.value, r.peakRssMb))
    } else {
      const name = `bare IndexedDB readwrite tx x${FLOOR_TX} (${plan.profile} profile, idb ${plan.idb ?? 'default'}) rep ${rep}`
      const r = await inFreshPage(source, label(name), (page) => page.evaluate(([n, d]) => window.bench.floor(n, d), [FLOOR_TX, plan.idb] as const), failures)
      if (r) floorMs.push(r.value)
    }
  }
  if (samples.length > 0) cases.push(medianOf(samples))
  if (plan.kind === 'floor' && floorMs.length > 0) floors.push({ profile: plan.profile, idbDurability: plan.idb ?? 'default', msPerTx: round(median(floorMs), 3), transactions: FLOOR_TX, reps: floorMs.length })
}

/** One page writes a 2000-step chat, then each fresh page reads it back from its first line of script. */
async function runRestore(source: PageSource, profile: Profile): Promise<void> {
  const db = `restore-${Date.now()}`
  const written = await inFreshPage(source, label(`restore (${profile} profile): write ${RESTORE_N}-step chat`), (page) => page.evaluate(([d, n]) => window.bench.write(d, n), [db, RESTORE_N] as const), failures)
  if (!written) return void restoreFailures.push(`${profile} profile: writing the thread failed`)
  const samples: RestoreSample[] = []
  for (let rep = 1; rep <= RESTORE_REPS; rep++) {
    const r = await inFreshPage(source, label(`restore (${profile} profile): fresh page ${rep}`), (page) => page.evaluate(() => window.bench.restored()), failures, { path: `/?restore=${db}&n=${RESTORE_N}` })
    if (r) samples.push(r.value)
  }
  if (samples.length === 0) return void restoreFailures.push(`${profile} profile: every restore page failed`)
  const med = (k: keyof RestoreSample) => round(median(samples.map((s) => s[k])), 2)
  restores.push({
    profile,
    n: RESTORE_N,
    reps: samples.length,
    writeMs: round(written.value.ms),
    bytesStored: written.value.bytes,
    scriptToStateMs: med('scriptToStateMs'),
    navToStateMs: med('navToStateMs'),
    scriptStartMs: med('scriptStartMs'),
    warmGetStateMs: med('warmGetStateMs'),
    historyMs: med('historyMs'),
    checkpoints: samples[0]?.checkpoints ?? 0,
    samples: samples.map((s) => ({ scriptToStateMs: round(s.scriptToStateMs, 2), navToStateMs: round(s.navToStateMs, 2), scriptStartMs: round(s.scriptStartMs, 2), warmGetStateMs: round(s.warmGetStateMs, 2), historyMs: round(s.historyMs, 2) })),
  })
}

progress(`bench:browser${quick ? ' (quick)' : ''}: bundling the edgegraph page and starting Chromium`)
const eg = await startHarness({ entry: new URL('./browser-page.ts', import.meta.url), ready: 'bench' })
const browserVersion = eg.browser.version()
try {
  const disk = await diskProfile(eg.origin, 'bench')
  try {
    const unroute = [await isolate(eg.context), await isolate(disk.context)]
    const sources: Record<Profile, PageSource> = { 'in-memory': harnessSource(eg), disk }
    for (const plan of plans) await runPlan(sources[plan.kind === 'lg' ? 'in-memory' : plan.profile], plan)
    for (const undo of unroute) await undo() // restore pages time their own load: no interception on the way
    await runRestore(sources['in-memory'], 'in-memory')
    await runRestore(disk, 'disk')
  } finally {
    await disk.close()
  }
} finally {
  await eg.close()
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
console.log(`edgegraph + IndexedDB vs LangGraph.js (MemorySaver) in headless Chromium ${browserVersion}, ${os.cpus().length} cpus, median of ${REPS} fresh page(s) per case${quick ? ' (quick run)' : ''}`)
console.log(formatBrowserTable(cases))
if (!langgraph.ok) console.log(`\nLangGraph.js: ${langgraph.reason}`)
console.log('\nIndexedDB transaction durability hint and profile (sync durability; "default" = what Chromium picks)')
console.log(formatDurabilityTable(cases, floors))
console.log('\nrestore after a page load')
console.log(formatRestore(restores, restoreFailures))
console.log('\ntargets (benchmark figures, not assertions)')
console.log(formatTargets(targets))
if (failures.length > 0) console.log(`\nFAILED cases:\n- ${failures.join('\n- ')}`)
console.log(`\ntotal ${elapsedS} s`)

// A quick run goes to a git-ignored file so it never replaces the full run's figures.
const root = fileURLToPath(new URL('..', import.meta.url))
const out = fileURLToPath(new URL(quick ? 'results/browser-quick.tmp.json' : 'results/browser-latest.json', import.meta.url))
await mkdir(fileURLToPath(new URL('results/', import.meta.url)), { recursive: true })
const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', totalMemGb: Math.round(os.totalmem() / 2 ** 30) }
const record = { date: new Date().toISOString(), node: process.version, chromium: browserVersion, machine, mode: quick ? 'quick' : 'full', reps: REPS, warmupSteps: WARMUP_STEPS, elapsedS, cases, floors, restores, langgraph, targets, failures }
await writeFile(out, JSON.stringify(record, null, 2) + '\n')
console.log(`results: ${out.replace(root, '')}`)
if (failures.length > 0) process.exitCode = 1
