/** Bundle-size check: esbuild (browser, esm, minified) + gzip -9 of a counter example, edgegraph vs LangGraph, plus tree-shaking. */
import { build, type Message } from 'esbuild'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

/**
 * Enforced (test/size.test.ts fails the test run above it): the counter example, core + memory adapter, min+gz.
 * 16 KB until issue 10: LangGraph.js parity in the run loop (edge visibility, task order, resume semantics, waiting
 * edges, defer, retries, stream modes, subgraph checkpoints) is paid by every graph: it cannot tree-shake away, and
 * loading it lazily made single-file bundles (Workers) bigger; 18 KB, then 18.5 KB with subgraph checkpoints, then
 * 19 KB with caching and LangGraph's defer rules; 21 KB with issue 13's data protection, which every write and read
 * goes through (checksums on every value, state versions and migrations, ctx.effect); 21.5 KB with issue 15's
 * performance work, on every write path too (group commit, compressed packs, packs built beside the steps from the
 * texts just written); 22.5 KB for packs stored as columns and a read path that allocates less, which every read
 * of a long thread goes through; 22.75 KB for updateState's LangGraph.js parity (finished tasks' writes kept, joins
 * and deferred nodes left due), on the class every graph compiles to; 22.8 KB for object deltas that keep key order
 * (the delta codec every write goes through); 22.9 KB for packs that skip compressing text with no repeats (the
 * packing every long chat does); 23 KB for routing that returns at once unless a conditional edge is async (one
 * promise and one microtask turn fewer on every step); 23.1 KB for a step V8 keeps optimized (no deopt, then a
 * recompile, when a new graph instance runs); 23.15 KB for packs stored before the records (`a/`, legacy `p/` packs
 * still read), which every long thread's reads and packing go through; 23.2 KB for values sealed with one buffer
 * (`encodeInto` after the header, where Node's `encode` and a copy made two), on every write. The README's Benchmarks
 * section lists what each costs.
 */
export const BUDGET_BYTES = 23.2 * 1024
/** Long-term goal for the same bundle; reported, not enforced. */
export const GOAL_BYTES = 12 * 1024
const benchDir = fileURLToPath(new URL('.', import.meta.url))

export interface Bundle {
  label: string
  ok: boolean
  minBytes?: number
  gzipBytes?: number
  /** Largest source files in the bundle: [path, minified bytes]. */
  top?: [string, number][]
  /** Why it could not be bundled (first esbuild errors). */
  error?: string
}

export interface SizeReport {
  edgegraph: Bundle
  /** `import * as g from src/index.ts` with nothing used, honouring package.json `sideEffects: false`. */
  treeShakenImport: Bundle
  /** The same with `sideEffects` and pure annotations ignored: does the library itself run code on import? */
  treeShakenNoHints: Bundle
  langgraph: Bundle[]
  budgetBytes: number
  withinBudget: boolean
}

const EDGEGRAPH_COUNTER = `
import { StateGraph, START, END } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
const graph = new StateGraph({ count: { default: () => 0 } })
  .addNode('increment', (s) => ({ count: s.count + 1 }))
  .addEdge(START, 'increment')
  .addConditionalEdges('increment', (s) => (s.count >= 5 ? END : 'increment'))
  .compile({ checkpointer: createMemoryAdapter() })
console.log(await graph.invoke({ count: 0 }, { threadId: 't' }))
`

const langgraphCounter = (entry: string) => `
import { StateGraph, Annotation, START, END, MemorySaver } from '${entry}'
const State = Annotation.Root({ count: Annotation({ reducer: (_a, b) => b, default: () => 0 }) })
const graph = new StateGraph(State)
  .addNode('increment', (s) => ({ count: s.count + 1 }))
  .addEdge(START, 'increment')
  .addConditionalEdges('increment', (s) => (s.count >= 5 ? END : 'increment'), ['increment', END])
  .compile({ checkpointer: new MemorySaver() })
console.log(await graph.invoke({ count: 0 }, { configurable: { thread_id: 't' } }))
`

/** Bundles `contents` (resolved from bench/) and measures it; esbuild failures become `ok: false` with the reason. */
async function measure(label: string, contents: string, ignoreAnnotations = false): Promise<Bundle> {
  try {
    const result = await build({
      stdin: { contents, resolveDir: benchDir, loader: 'ts', sourcefile: 'entry.ts' },
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
      ignoreAnnotations,
      metafile: true,
    })
    const code = result.outputFiles[0]?.contents ?? new Uint8Array()
    const inputs = Object.values(result.metafile.outputs)[0]?.inputs ?? {}
    const top = Object.entries(inputs)
      .map(([path, i]): [string, number] => [path, i.bytesInOutput])
      .sort((a, b) => b[1] - a[1])
      .slice(0, Number(process.env.SIZE_TOP ?? 6))
    return { label, ok: true, minBytes: code.byteLength, gzipBytes: gzipSync(code, { level: 9 }).byteLength, top }
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors
    const why = errors?.length ? errors.slice(0, 3).map((e) => `${e.location?.file ?? ''}: ${e.text}`).join('; ') : String(err)
    return { label, ok: false, error: why }
  }
}

/** The budgeted bundle alone: the counter example, edgegraph core + memory adapter. */
export function measureCounter(): Promise<Bundle> {
  return measure('edgegraph core + memory adapter (counter example)', EDGEGRAPH_COUNTER)
}

export async function measureSizes(): Promise<SizeReport> {
  const edgegraph = await measureCounter()
  const unused = `import * as g from '../src/index.js'\nexport {}\n`
  const treeShakenImport = await measure('import * from edgegraph, nothing used', unused)
  const treeShakenNoHints = await measure('same, ignoring sideEffects/pure hints', unused, true)
  // The main entry maps to dist/web.js under the "browser" condition anyway; /web is the documented one.
  const langgraph = [
    await measure('@langchain/langgraph + MemorySaver (counter example)', langgraphCounter('@langchain/langgraph')),
    await measure('@langchain/langgraph/web + MemorySaver (counter example)', langgraphCounter('@langchain/langgraph/web')),
  ]
  return { edgegraph, treeShakenImport, treeShakenNoHints, langgraph, budgetBytes: BUDGET_BYTES, withinBudget: (edgegraph.gzipBytes ?? Infinity) <= BUDGET_BYTES }
}

export const kb = (bytes: number | undefined) => (bytes === undefined ? '?' : (bytes / 1024).toFixed(2))

export function describe(b: Bundle): string {
  return b.ok ? `${b.label}: ${kb(b.gzipBytes)} KB min+gz (${kb(b.minBytes)} KB min)` : `${b.label}: could not bundle for the browser: ${b.error}`
}

/** Tree-shaking results are near zero, so bytes say more than KB; gzip alone adds ~20 bytes of framing. */
const bytesOf = (b: Bundle) => (b.ok ? `${b.minBytes} B min, ${b.gzipBytes} B gz` : `failed: ${b.error}`)

export function formatSizes(r: SizeReport): string {
  return [
    `edgegraph core + memory adapter (counter example): ${kb(r.edgegraph.gzipBytes)} KB min+gz (budget ${r.budgetBytes / 1024} KB, goal ${GOAL_BYTES / 1024} KB) ${r.withinBudget ? 'OK' : 'OVER BUDGET'}` +
      (r.edgegraph.ok ? ` [${kb(r.edgegraph.minBytes)} KB min]` : ` (bundling failed: ${r.edgegraph.error})`),
    `  largest parts (min bytes): ${(r.edgegraph.top ?? []).map(([p, n]) => `${p.replace(/^\.\.\//, '')} ${n}`).join(', ')}`,
    `tree-shaking: ${r.treeShakenImport.label}: ${bytesOf(r.treeShakenImport)}; ${r.treeShakenNoHints.label}: ${bytesOf(r.treeShakenNoHints)}`,
    ...r.langgraph.map(describe),
  ].join('\n')
}

// `npm run size` runs this file; run.ts imports measureSizes() instead.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const report = await measureSizes()
  if (process.argv.includes('--json')) console.log(JSON.stringify(report))
  else console.log(formatSizes(report))
  if (!report.withinBudget) process.exitCode = 1
}
