/**
 * @module Builds the demo page into demo/dist (the Worker serves it as static assets: wrangler.jsonc `assets`).
 * `tsx demo/build.ts` builds and prints the sizes; `npm start` and `wrangler dev` starts (worker/wrangler-dev.ts)
 * call {@link buildDemo} first.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const here = fileURLToPath(new URL('.', import.meta.url))
export const demoDist = path.join(here, 'dist')

/** What was built: each file with its size and gzip size in bytes. */
export interface BuiltFile {
  file: string
  bytes: number
  gzip: number
}

/** Bundles the app and its service worker, copies the page and styles. Each file is replaced atomically. */
export async function buildDemo(): Promise<BuiltFile[]> {
  await mkdir(demoDist, { recursive: true })
  const bundle = async (entry: string, format: 'esm' | 'iife') => {
    const out = await build({ entryPoints: [path.join(here, 'app', entry)], bundle: true, minify: true, format, target: 'es2022', platform: 'browser', write: false, logLevel: 'silent', legalComments: 'none' })
    return (out.outputFiles[0] as { contents: Uint8Array }).contents
  }
  const files: [string, Uint8Array | Buffer][] = [
    ['app.js', await bundle('main.ts', 'esm')],
    ['sw.js', await bundle('sw.ts', 'iife')],
    ['index.html', await readFile(path.join(here, 'app', 'index.html'))],
    ['style.css', await readFile(path.join(here, 'app', 'style.css'))],
  ]
  const built: BuiltFile[] = []
  for (const [file, contents] of files) {
    // Several `wrangler dev` starts (test files side by side) may build at once: never leave a half-written file.
    const tmp = path.join(demoDist, `.${file}.${process.pid}.${Math.random().toString(36).slice(2)}`)
    await writeFile(tmp, contents)
    await rename(tmp, path.join(demoDist, file))
    built.push({ file, bytes: contents.length, gzip: gzipSync(contents).length })
  }
  return built
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const built = await buildDemo()
  for (const f of built) console.log(`${f.file.padEnd(12)} ${(f.bytes / 1024).toFixed(1).padStart(7)} KB   ${(f.gzip / 1024).toFixed(1).padStart(6)} KB gzip`)
  console.log(`total transferred on first load (gzip): ${(built.reduce((n, f) => n + f.gzip, 0) / 1024).toFixed(1)} KB -> ${path.relative(process.cwd(), demoDist)}/`)
}
