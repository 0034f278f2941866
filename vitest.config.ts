import { existsSync } from 'node:fs'
import { playwright } from '@vitest/browser-playwright'
import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'

/** Debian's Chromium (Playwright's own download cannot work here); CHROME_PATH overrides it. */
export const chromiumPath = process.env.CHROME_PATH ?? '/usr/bin/chromium'
if (!existsSync(chromiumPath)) {
  // Never skip the browser tests silently: say exactly what is missing and how to get it.
  throw new Error(
    `Chromium not found at ${chromiumPath}. Install it with: apt-get update && apt-get install -y --no-install-recommends chromium ` +
      '(or set CHROME_PATH to a Chromium binary). `npm test` does this itself when run as root on Debian.',
  )
}
/** Flags that work headless on these machines (no sandbox as root, no network chatter). */
export const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

// One `vitest run` for every project, each named so a failure says where it ran:
// node (engine, memory adapter), dom (browser adapters on happy-dom + fake-indexeddb, fast),
// chromium (browser adapters in real Chromium through vitest browser mode).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.dom.test.ts', 'test/**/*.browser.test.ts', 'test/**/*.e2e.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'dom',
          include: ['test/**/*.dom.test.ts'],
          environment: 'happy-dom',
          setupFiles: ['fake-indexeddb/auto'],
        },
      },
      {
        // Pre-bundled up front: discovering them mid-run makes Vite reload the page, and a test with it.
        optimizeDeps: { include: ['dexie', 'idb', 'fast-check'] },
        test: {
          name: 'chromium',
          include: ['test/**/*.browser.test.ts'],
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({ launchOptions: { executablePath: chromiumPath, args: chromiumArgs } }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
      {
        // Real Chromium driven from Node by Playwright (test/chromium/ harness): several tabs, reloads, crashes, quota.
        test: {
          name: 'chromium-e2e',
          include: ['test/**/*.e2e.test.ts'],
          environment: 'node',
          testTimeout: 15_000,
          hookTimeout: 20_000,
        },
      },
      {
        // Inside workerd (Cloudflare's runtime) through @cloudflare/vitest-plugin: the Durable Object and D1
        // adapters against real SQLite-backed storage. Files are *.spec.ts so the node project never picks them up.
        plugins: [cloudflareTest({ wrangler: { configPath: './test/workers/wrangler.jsonc' } })],
        test: {
          name: 'workers',
          include: ['test/workers/**/*.spec.ts'],
          testTimeout: 30_000,
          // Its files (one Durable Object and one D1 suite, each mostly waiting on workerd) run side by side;
          // a different maxWorkers needs its own group, which runs after the other projects.
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
