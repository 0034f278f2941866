/**
 * Bench processes run edgegraph as users do: as plain JavaScript (what `npm run build` ships), with LangGraph.js and
 * the drivers loaded from node_modules as they are. Under tsx (esbuild with `keepNames`) every named closure made per
 * step was wrapped in an `Object.defineProperty` call: 4-5 µs of a ~35 µs counter step that no user pays, and that
 * LangGraph.js, compiled already, never paid in the same run.
 */
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

/** Bundles `entry` (a .ts file beside the bench) to bench/.build/<name>.mjs, packages left external; returns its path. */
export async function compiled(entry: URL): Promise<string> {
  const name = fileURLToPath(entry).split('/').pop()?.replace(/\.ts$/, '.mjs') as string
  const outfile = fileURLToPath(new URL(`.build/${name}`, import.meta.url))
  await build({ entryPoints: [fileURLToPath(entry)], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning' })
  return outfile
}
