/** Node side of the browser bench: where pages come from (harness or disk-backed profile), fresh-page runs, renderer RSS. */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page, type Route } from 'playwright'
import type { Harness } from '../test/chromium/harness.js'
import { chromiumArgs, chromiumPath } from '../vitest.config.js'

/** Somewhere to open pages of the bench bundle. `browser` is set when renderer RSS can be read (not for a persistent profile). */
export interface PageSource {
  newPage(path?: string): Promise<Page>
  browser: Browser | undefined
}

/**
 * Serves `/` (no query) with COOP/COEP so the page is cross-origin isolated: Chromium then times `performance.now()`
 * to 5 us instead of 100 us, which per-step gaps of 10-50 us need. Returns the undo, for page-load timings: every
 * request of a routed context makes a round trip through Playwright.
 */
export async function isolate(context: BrowserContext): Promise<() => Promise<void>> {
  const match = (url: URL) => url.pathname === '/' && url.search === ''
  const handler = async (route: Route) => {
    const response = await route.fetch()
    const headers = { ...response.headers(), 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }
    await route.fulfill({ response, headers })
  }
  await context.route(match, handler)
  return () => context.unroute(match, handler)
}

export function harnessSource(h: Harness): PageSource {
  return { newPage: (p) => h.newPage(p), browser: h.browser }
}

/**
 * A Chromium with an on-disk profile, serving the harness' origin. The harness' own context is off the record:
 * there IndexedDB lives in memory and never flushes, so the durability hint cannot matter.
 */
export async function diskProfile(origin: string, ready: string): Promise<PageSource & { context: BrowserContext; close(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'edgegraph-bench-profile-'))
  const context = await chromium.launchPersistentContext(dir, { executablePath: chromiumPath, args: chromiumArgs, headless: true })
  return {
    context,
    browser: undefined,
    async newPage(p = '/') {
      const page = await context.newPage()
      await page.goto(origin + p)
      await page.waitForFunction((global) => (window as unknown as Record<string, unknown>)[global] !== undefined, ready)
      return page
    },
    async close() {
      await context.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Peak RSS (VmHWM) in MB of the renderer that holds the most memory now: the open page's, since the previous
 * page's renderer is gone or going and the spare one is near empty. null when it cannot be read.
 */
export async function rendererPeakMb(browser: Browser | undefined): Promise<number | null> {
  if (!browser) return null
  try {
    const cdp = await browser.newBrowserCDPSession()
    const info = (await cdp.send('SystemInfo.getProcessInfo')) as { processInfo: { type: string; id: number }[] }
    await cdp.detach()
    let best: { rss: number; peak: number } | undefined
    for (const p of info.processInfo.filter((x) => x.type === 'renderer')) {
      const status = await readFile(`/proc/${p.id}/status`, 'utf8').catch(() => '')
      const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1])
      const peak = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1])
      if (rss > 0 && peak > 0 && rss > (best?.rss ?? 0)) best = { rss, peak }
    }
    return best ? best.peak / 1024 : null
  } catch {
    return null
  }
}

/** Rejects after `ms`, so a hung page cannot hang the run. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms / 1000} s`)), ms)))
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Peak of V8's used heap in MB while `run` goes, sampled every `everyMs` through DevTools (`Runtime.getHeapUsage`);
 * null when the page gives no DevTools session.
 */
async function sampleHeap<T>(page: Page, start: (peakSoFar: () => number | null) => Promise<T>, everyMs = 100): Promise<{ value: T; peakHeapMb: number | null }> {
  let peak = 0
  const peakSoFar = () => (peak > 0 ? peak / 2 ** 20 : null)
  let cdp: CDPSession | undefined
  try {
    cdp = await page.context().newCDPSession(page)
  } catch {
    return { value: await start(peakSoFar), peakHeapMb: null }
  }
  const session = cdp
  const run = start(peakSoFar)
  let stop = false
  const sample = async () => {
    try {
      // Bounded: a tab thrashing at its heap limit does not answer, and must not hold the run up.
      const { usedSize } = (await within(session.send('Runtime.getHeapUsage'), 1000, 'heap sample')) as { usedSize: number }
      peak = Math.max(peak, usedSize)
    } catch {
      // the page went away or did not answer: the samples so far stand
    }
  }
  const loop = (async () => {
    while (!stop) {
      await sample()
      await new Promise((resolve) => setTimeout(resolve, everyMs))
    }
  })()
  try {
    const value = await run
    await sample()
    return { value, peakHeapMb: peakSoFar() }
  } finally {
    stop = true
    await loop
    await within(session.detach(), 1000, 'detach').catch(() => {})
  }
}

/**
 * Runs `fn` in a fresh page (closed afterwards, so its renderer process goes with it), logging progress to stderr
 * (and the page's own `progress ...` console lines, for long cases). Resolves undefined on failure, after adding it to
 * `failures`.
 */
export async function inFreshPage<T>(
  source: PageSource,
  label: string,
  fn: (page: Page, peakHeapSoFar: () => number | null) => Promise<T>,
  failures: string[],
  options: { path?: string; timeoutMs?: number; heap?: boolean } = {},
): Promise<{ value: T; peakRssMb: number | null; peakHeapMb: number | null } | undefined> {
  const t0 = Date.now()
  let page: Page | undefined
  try {
    page = await source.newPage(options.path ?? '/')
    page.on('console', (m) => {
      if (m.text().startsWith('progress ')) process.stderr.write(`${label}: ${m.text().slice(9)} (${Math.round((Date.now() - t0) / 1000)} s)\n`)
    })
    const p = page
    // Restore pages time themselves from their first line: no DevTools session attached on the way.
    const run = options.heap === false ? fn(p, () => null).then((value) => ({ value, peakHeapMb: null })) : sampleHeap(p, (peak) => fn(p, peak))
    const { value, peakHeapMb } = await within(run, options.timeoutMs ?? 180_000, label)
    const peakRssMb = await rendererPeakMb(source.browser)
    process.stderr.write(`${label} ... ${Date.now() - t0} ms\n`)
    return { value, peakRssMb, peakHeapMb }
  } catch (err) {
    const message = (err as Error).message.split('\n')[0] ?? String(err)
    process.stderr.write(`${label} ... FAILED after ${Date.now() - t0} ms: ${message}\n`)
    failures.push(`${label.replace(/^\[\d+\/\d+\] /, '')}: ${message}`)
    return undefined
  } finally {
    // Closing kills the tab's renderer, also one that stopped answering (a heap at its limit).
    if (page) await within(page.close(), 10_000, 'closing the page').catch(() => {})
  }
}
