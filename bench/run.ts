/** Benchmark driver: every case in a fresh node process, median of the repetitions, table + targets + results JSON. */
import { spawn } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { ENGINES, median, type CaseResult, type Engine } from './common.js'
import { WARM_MEMORY_FLAGS } from './memory.js'
import { formatEncryption, formatReadme, formatScale, formatTable, formatTargets, checkTargets, type BenchRecord } from './report.js'
import { compiled } from './compiled.js'
import { formatSizes, measureSizes } from './size.js'
import { WORKLOADS, type Workload } from './workloads.js'

// `--readme`: print the README's tables from the last full run's JSON, without running anything.
if (process.argv.includes('--readme')) {
  console.log(formatReadme(JSON.parse(await readFile(new URL('results/latest.json', import.meta.url), 'utf8')) as BenchRecord))
  process.exit(0)
}

const quick = process.argv.includes('--quick') || process.env['BENCH_QUICK'] === '1'
const SIZES: Record<Workload, number[]> = quick
  ? { counter: [100, 1000], chat: [100, 500], 'chat-text': [500], react: [100] }
  : { counter: [100, 1000, 5000], chat: [100, 500, 2000], 'chat-text': [2000], react: [100, 1000] }
const REPS = quick ? 1 : 3
// LangGraph keeps a full copy of the message list per checkpoint (~1 GB at chat n=2000), so every child gets a
// large heap; all children get the same flag so both engines run under the same GC settings.
const NODE_FLAGS = ['--max-old-space-size=8192', ...WARM_MEMORY_FLAGS]
const root = fileURLToPath(new URL('..', import.meta.url))
const caseFile = await compiled(new URL('case.ts', import.meta.url))

interface Plan {
  engine: Engine
  workload: Workload
  n: number
  /** edgegraph through withEncryption: the chat sizes again, to read beside the plain ones. */
  encrypted?: boolean
}

/** Runs one case in a fresh process; resolves with its JSON line, rejects with its stderr on failure. */
function spawnCase({ engine, workload, n, encrypted }: Plan, timeoutMs: number): Promise<CaseResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE_FLAGS, caseFile, '--engine', engine, '--workload', workload, '--n', String(n), ...(encrypted ? ['--encrypted'] : [])], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d))
    child.stderr.on('data', (d: Buffer) => (err += d))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      const line = out.trim().split('\n').pop() ?? ''
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as CaseResult)
      else reject(new Error(`${engine} ${workload} n=${n} exited with ${signal ?? code}${signal ? ` (timeout ${timeoutMs / 1000} s?)` : ''}\n${err.trim()}`))
    })
  })
}

/** The per-metric median of several runs of one case (each metric on its own, so a record may mix runs). */
function medianOf(runs: CaseResult[]): CaseResult {
  const first = runs[0] as CaseResult
  const numeric = Object.fromEntries(
    Object.entries(first)
      .filter(([, v]) => typeof v === 'number')
      .map(([k]) => [k, median(runs.map((r) => r[k as keyof CaseResult] as number))]),
  )
  return { ...first, ...numeric }
}

/** Scale: the chat at these sizes on edgegraph only (LangGraph.js's MemorySaver holds a full copy of the list per step: ~25 GB at 10,000). */
const SCALE = quick ? [] : [10_000, 50_000]

const plans: Plan[] = []
for (const workload of WORKLOADS) for (const n of SIZES[workload]) for (const engine of ENGINES) plans.push({ engine, workload, n })
for (const n of SCALE) plans.push({ engine: 'edgegraph', workload: 'chat', n })
for (const n of SIZES.chat) plans.push({ engine: 'edgegraph', workload: 'chat', n, encrypted: true })
const total = plans.length * REPS
const started = Date.now()
const cases: (CaseResult & { reps: number; samples: CaseResult[] })[] = []
const failures: string[] = []
let done = 0
for (const plan of plans) {
  const samples: CaseResult[] = []
  for (let rep = 1; rep <= REPS; rep++) {
    done++
    const t0 = Date.now()
    const label = `[${done}/${total}] ${plan.engine}${plan.encrypted ? ' (encrypted)' : ''} ${plan.workload} n=${plan.n} rep ${rep}`
    try {
      samples.push(await spawnCase(plan, plan.engine === 'langgraph' && plan.n >= 1000 ? 30 * 60_000 : 10 * 60_000))
      process.stderr.write(`${label} ... ${Date.now() - t0} ms\n`)
    } catch (err) {
      process.stderr.write(`${label} ... FAILED after ${Date.now() - t0} ms\n${(err as Error).message}\n`)
      failures.push(`${plan.engine} ${plan.workload} n=${plan.n} rep ${rep}: ${(err as Error).message.split('\n')[0]}`)
    }
  }
  if (samples.length > 0) cases.push({ ...medianOf(samples), reps: samples.length, samples })
}

const size = await measureSizes()
const plain = cases.filter((c) => !c.encrypted)
const encrypted = cases.filter((c) => c.encrypted)
const targets = checkTargets(plain, size, encrypted)
const elapsedS = Math.round((Date.now() - started) / 1000)
console.log(`edgegraph vs LangGraph.js (MemorySaver), node ${process.version}, ${os.cpus().length} cpus, median of ${REPS} fresh process(es) per case${quick ? ' (quick run)' : ''}`)
console.log(formatTable(plain.filter((c) => !SCALE.includes(c.n))))
if (SCALE.length > 0) {
  console.log('\nscale: the chat on edgegraph + memory adapter as n grows (LangGraph.js cannot run these sizes: O(n^2) bytes)')
  console.log(formatScale(plain.filter((c) => c.engine === 'edgegraph' && c.workload === 'chat')))
}
console.log('\nencryption at rest: the chat through withEncryption (AES-256-GCM, per-thread data key) over the same memory adapter')
console.log(formatEncryption(plain, encrypted))
console.log('\nbundle size')
console.log(formatSizes(size))
console.log('\ntargets (benchmark figures, not assertions)')
console.log(formatTargets(targets))
if (failures.length > 0) console.log(`\nFAILED cases:\n- ${failures.join('\n- ')}`)
console.log(`\ntotal ${elapsedS} s`)

// A quick run goes to a git-ignored file so it never replaces the full run's figures.
const out = fileURLToPath(new URL(quick ? 'results/quick.tmp.json' : 'results/latest.json', import.meta.url))
await mkdir(fileURLToPath(new URL('results/', import.meta.url)), { recursive: true })
const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', totalMemGb: Math.round(os.totalmem() / 2 ** 30) }
const record = { date: new Date().toISOString(), node: process.version, machine, mode: quick ? 'quick' : 'full', reps: REPS, elapsedS, cases, size, targets, failures }
await writeFile(out, JSON.stringify(record, null, 2) + '\n')
console.log(`results: ${out.replace(root, '')}`)
if (failures.length > 0) process.exitCode = 1
