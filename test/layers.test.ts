/**
 * The layers of DESIGN.md, checked on the source: graph → run → checkpoint, core free of runtimes and packages,
 * adapters on the storage contract only, and a Worker that reads history through the history layer, never by key.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))

function files(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []))
}

interface Import {
  /** Resolved to a repository path for relative imports, as written otherwise. */
  target: string
  typeOnly: boolean
}

/** The static imports and re-exports of a file (`import type` / `export type` marked as such). */
function importsOf(file: string): Import[] {
  const text = readFileSync(join(root, file), 'utf8')
  const out: Import[] = []
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^;'"]*?from\s+'([^']+)'/gms)) {
    const spec = m[3] as string
    const target = spec.startsWith('.') ? relative(root, join(root, file, '..', spec)).replace(/\.js$/, '.ts') : spec
    out.push({ target, typeOnly: m[2] !== undefined })
  }
  return out
}

/** Every import of `files` that `allowed` refuses, as `file -> target`. */
function violations(list: string[], allowed: (target: string, imp: Import, file: string) => boolean): string[] {
  return list.flatMap((file) => importsOf(file).filter((imp) => !allowed(imp.target, imp, file)).map((imp) => `${file} -> ${imp.target}${imp.typeOnly ? ' (type)' : ''}`))
}

const under = (dir: string) => (target: string) => target.startsWith(`${dir}/`)

describe('layers (DESIGN.md)', () => {
  it('finds the imports it checks', () => {
    // A parser that found nothing would make every rule below pass.
    expect(importsOf('src/run/loop.ts').map((i) => i.target)).toContain('src/checkpoint/model.ts')
    expect(importsOf('src/index.ts').length).toBeGreaterThan(10)
  })

  it('core imports nothing outside src/: no packages, no node:*, no adapters or worker', () => {
    // The one exception: edgegraph/langgraph, LangGraph's checkpointer interface, imports its package (an optional peer).
    const bridge = (t: string, _imp: Import, file: string) => file === 'src/langgraph.ts' && t === '@langchain/langgraph-checkpoint'
    expect(violations(files('src'), (t, imp, file) => under('src')(t) || t === 'src/errors.ts' || bridge(t, imp, file))).toEqual([])
  })

  it('nothing else in core imports edgegraph/langgraph, so the core never loads its package', () => {
    const others = files('src').filter((f) => f !== 'src/langgraph.ts' && !f.startsWith('src/langgraph/'))
    expect(violations(others, (t) => t !== 'src/langgraph.ts' && !under('src/langgraph')(t))).toEqual([])
  })

  it('the history layer (src/checkpoint) imports nothing from the run or graph layers', () => {
    expect(violations(files('src/checkpoint'), (t) => under('src/checkpoint')(t) || t === 'src/errors.ts')).toEqual([])
  })

  it('the run layer imports the graph layer for types only, never the builder at run time', () => {
    expect(violations(files('src/run'), (t, imp) => !under('src/graph')(t) || imp.typeOnly)).toEqual([])
  })

  it('adapters use the storage contract, errors and serde of core, their own helpers and their backend only', () => {
    const core = ['src/checkpoint/adapter.ts', 'src/errors.ts', 'src/checkpoint/serde.ts']
    const backends = ['idb', 'dexie', 'cloudflare:workers']
    expect(violations(files('adapters'), (t) => core.includes(t) || under('adapters')(t) || backends.includes(t))).toEqual([])
  })

  it('the Worker never reads history keys itself: no key layout imports, no head key literal', () => {
    const worker = files('worker')
    expect(violations(worker, (t) => !['src/checkpoint/keys.ts', 'src/checkpoint/record.ts', 'src/checkpoint/storage.ts'].includes(t))).toEqual([])
    const readsKeys = worker.filter((f) => /\.get\([^)]*\[\s*'h'\s*\]|'[cwpk]\/'/.test(readFileSync(join(root, f), 'utf8')))
    expect(readsKeys).toEqual([])
  })
})
