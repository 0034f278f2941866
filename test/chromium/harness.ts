/** Node side of the Chromium e2e harness: bundles page.ts, serves it on 127.0.0.1, launches Debian's Chromium. */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright'
import { chromiumArgs, chromiumPath } from '../../vitest.config.js'
import type { Outcome, Snap } from './page.js'

export type { Outcome, RunOptions, Snap, Summary } from './page.js'

const html = '<!doctype html><meta charset="utf-8"><title>edgegraph e2e</title><script type="module" src="/bundle.js"></script>'

export interface Harness {
  /** `http://127.0.0.1:<port>`: one origin per harness, so test files never share IndexedDB or quota. */
  origin: string
  browser: Browser
  context: BrowserContext
  /** A new tab with `window.eg` ready, at `/` or at another path of the server. */
  newPage(path?: string): Promise<Page>
  close(): Promise<void>
}

/** Starts server + browser for one test file. Importing vitest.config.ts throws when Chromium is missing: never a skip. */
export async function startHarness(
  options: {
    entry?: URL
    ready?: string
    /** The page at `/` (default: one that loads `/bundle.js`). */
    html?: string
    /** More files to serve, by path (a service worker, say). */
    files?: Record<string, { type: string; body: string }>
  } = {},
): Promise<Harness> {
  // The browser benchmark reuses this harness with its own page (bench/browser-page.ts).
  const entry = options.entry ?? new URL('./page.ts', import.meta.url)
  const ready = options.ready ?? 'eg'
  const bundled = await build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  })
  const bundle = bundled.outputFiles[0]?.contents
  if (!bundle) throw new Error(`esbuild produced no bundle for ${entry.pathname}`)

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
    // The bundle may be loaded by an opaque-origin (sandboxed) page, which needs CORS for module scripts.
    res.setHeader('Access-Control-Allow-Origin', '*')
    res.setHeader('Cache-Control', 'no-store')
    if (path === '/bundle.js') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(bundle)
    if (path === '/') return void res.writeHead(200, { 'Content-Type': 'text/html' }).end(options.html ?? html)
    const file = options.files?.[path]
    if (file) return void res.writeHead(200, { 'Content-Type': file.type }).end(file.body)
    // Same page under a CSP sandbox: an opaque origin, where Chromium denies IndexedDB.
    if (path === '/sandboxed') return void res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Security-Policy': 'sandbox allow-scripts' }).end(html)
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  let browser: Browser
  try {
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true })
  } catch (err) {
    server.close()
    throw err
  }
  const context = await browser.newContext() // a fresh profile: no IndexedDB, locks or quota left from elsewhere
  return {
    origin,
    browser,
    context,
    async newPage(path = '/') {
      const page = await context.newPage()
      await page.goto(origin + path)
      await page.waitForFunction((global) => (window as unknown as Record<string, unknown>)[global] !== undefined, ready)
      return page
    },
    async close() {
      await browser.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Waits until this page's run on `thread` has finished step `k` (node done; its commit may still be on the way). */
export async function untilStep(page: Page, thread: string, k: number): Promise<void> {
  await page.waitForFunction(([t, n]) => (window.eg.progress[t] ?? 0) >= n, [thread, k] as const, { polling: 5 })
}

/**
 * Checks the head's parent chain of a thread's history (newest first): ids unique, steps strictly consecutive
 * from `first` to the head, each checkpoint's parent the next one down. Returns the chain, oldest first.
 */
export function chainOf(history: Snap[], first = 0): Snap[] {
  const byId = new Map(history.map((s) => [s.id, s]))
  if (byId.size !== history.length) throw new Error(`duplicate checkpoint ids in history: ${history.map((s) => s.id).join(', ')}`)
  const chain: Snap[] = []
  for (let s = history[0]; s; s = s.parentId === undefined ? undefined : byId.get(s.parentId)) chain.unshift(s)
  const steps = chain.map((s) => s.step)
  const expected = Array.from({ length: steps.length }, (_, i) => first + i)
  if (JSON.stringify(steps) !== JSON.stringify(expected)) throw new Error(`steps along the head's chain are not ${first}..: ${steps.join(',')}`)
  if (chain[0]?.parentId !== undefined) throw new Error(`chain does not reach the thread's first checkpoint (parent ${chain[0]?.parentId} missing)`)
  return chain
}

/** The value of a call that must have succeeded; otherwise fails with what the page saw. */
export function ok<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw new Error(`expected success, got ${outcome.name} ${outcome.code ?? ''}: ${outcome.message}`)
  return outcome.value
}

/** The failure of a call that must have thrown EdgegraphError `code`; otherwise fails with what happened instead. */
export function failed(outcome: Outcome<unknown>, code: string): { message: string; ms: number } {
  if (outcome.ok || outcome.code !== code) throw new Error(`expected EdgegraphError ${code}, got ${JSON.stringify(outcome)}`)
  return outcome
}
