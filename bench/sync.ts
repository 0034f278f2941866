/**
 * `npm run bench:sync`: what sync costs, in real Chromium (IndexedDB) against the real Worker in `wrangler dev`. A chat
 * thread of n steps (500-byte messages) is pushed from one device, pulled by another, then synced idle and after one
 * more step: time, requests, and bytes on the wire against the bytes the thread takes in IndexedDB.
 * LangGraph.js has no sync to compare with; the stored bytes are edgegraph's own.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { startHarness } from '../test/chromium/harness.js'
import { removeDir, startServer, tempDir, tokenFor } from '../test/wrangler-fixture.js'
import type { SyncBenchResult, SyncSample } from './sync-page.js'
import { buildDemo } from '../demo/build.js'
import { median } from './common.js'

const quick = process.argv.includes('--quick')
const SIZES = quick ? [100, 500] : [100, 500, 2000]
const progress = (s: string) => process.stderr.write(`${s}\n`)

progress('starting wrangler dev and Chromium...')
const persistTo = await tempDir()
const server = await startServer(persistTo)
const token = await tokenFor(server, { tenant: 'bench' })
const h = await startHarness({ entry: new URL('./sync-page.ts', import.meta.url), ready: 'syncBench' })
const results: SyncBenchResult[] = []
const LOADS = 5
const loads: { interactiveMs: number; transferredBytes: number }[] = []
const built = await buildDemo()
try {
  for (const [i, n] of SIZES.entries()) {
    progress(`[${i + 1}/${SIZES.length}] chat n=${n}: build, push, pull, idle sync, one more step`)
    const page = await h.newPage()
    results.push(await page.evaluate(([url, t, size, tag]) => window.syncBench.run(url, t, size, tag), [server.url, token, n, String(i)] as const))
    await page.close()
  }
  // First load of the demo page the Worker serves (the same server): cold, each in a fresh browser context.
  for (let i = 0; i < LOADS; i++) {
    progress(`demo page: cold load ${i + 1}/${LOADS}`)
    const context = await h.browser.newContext()
    const page = await context.newPage()
    await page.goto(`${server.url}/#token=${token}`)
    await page.waitForFunction(() => (window as { demo?: { interactiveMs?: number } }).demo?.interactiveMs !== undefined, undefined, { timeout: 30_000 })
    loads.push(
      await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming
        const resources = performance.getEntriesByType('resource') as PerformanceResourceTiming[]
        const shell = resources.filter((r) => new URL(r.name).origin === location.origin && !r.name.includes('/v1/'))
        return { interactiveMs: (window as unknown as { demo: { interactiveMs: number } }).demo.interactiveMs, transferredBytes: nav.transferSize + shell.reduce((n, r) => n + r.transferSize, 0) }
      }),
    )
    await context.close()
  }
} finally {
  await h.close()
  await server.dev.stop()
  await removeDir(persistTo)
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`
const row = (what: string, r: SyncBenchResult, s: SyncSample, bytes: number) =>
  `| ${what} n=${r.n} | ${s.checkpoints} | ${s.ms.toFixed(0)} ms | ${s.requests} | ${(s.requests / Math.max(1, s.checkpoints)).toFixed(3)} | ${kb(bytes)} | ${(bytes / r.storedBytes).toFixed(2)}× |`
const lines = [
  `Sync, Chromium ${h.browser.version()} (IndexedDB) ↔ wrangler dev (Durable Object), ${os.cpus()[0]?.model ?? 'cpu'}`,
  '',
  '| sync | checkpoints | time | requests | requests / checkpoint | bytes on the wire | wire ÷ stored |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...results.flatMap((r) => [
    row('push', r, r.push, r.push.sentBytes),
    row('pull', r, r.pull, r.pull.receivedBytes),
    `| idle n=${r.n} | 0 | ${r.idle.ms.toFixed(0)} ms | ${r.idle.requests} | | ${kb(r.idle.sentBytes + r.idle.receivedBytes)} | |`,
    `| one more turn n=${r.n} | ${r.oneStep.checkpoints} | ${r.oneStep.ms.toFixed(0)} ms | ${r.oneStep.requests} | | ${kb(r.oneStep.sentBytes + r.oneStep.receivedBytes)} | |`,
  ]),
  '',
  ...results.map((r) => `n=${r.n}: ${r.checkpoints} checkpoints, ${kb(r.payloadBytes)} of message text, ${kb(r.storedBytes)} stored in IndexedDB (${(r.storedBytes / r.payloadBytes).toFixed(2)}× the text).`),
]
const gzip = built.reduce((n, f) => n + f.gzip, 0)
const demoLoad = { interactiveMsMedian: median(loads.map((l) => l.interactiveMs)), transferredBytesMedian: median(loads.map((l) => l.transferredBytes)), gzipBytes: gzip, files: built, loads }
lines.push(
  '',
  `Demo page, first load (${LOADS} cold loads from wrangler dev, median): interactive after ${demoLoad.interactiveMsMedian.toFixed(0)} ms, ` +
    `${kb(demoLoad.transferredBytesMedian)} transferred from wrangler dev; the files are ${kb(gzip)} gzip (${built.map((f) => `${f.file} ${kb(f.gzip)}`).join(', ')}).`,
)
const big = results.at(-1) as SyncBenchResult
const ratio = big.push.sentBytes / big.storedBytes
lines.push('', `target: bytes sent for the ${big.n}-step chat at most 1.1× the bytes stored: ${ratio.toFixed(2)}× ${ratio <= 1.1 ? 'met' : 'NOT MET'}`)
console.log(lines.join('\n'))
const out = fileURLToPath(new URL('./results/sync-latest.json', import.meta.url))
await mkdir(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true })
await writeFile(out, JSON.stringify({ date: new Date().toISOString(), chromium: h.browser.version(), results, demoLoad }, null, 2))
progress(`wrote ${out}`)
