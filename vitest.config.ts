import { playwright } from '@vitest/browser-playwright'
import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config'
import { chromiumArgs, chromiumMissing, chromiumPath } from './test/chromium/binary.js'

export { chromiumArgs, chromiumPath }

// Chromium is checked when a project that drives it runs, not when this file loads, so `vitest run --project node`
// works on a machine without it. Without it, every browser test file fails at its start saying what to install
// (never a silent skip); `npm test` installs it first (test/ensure-system.mjs).
const requireChromium = './test/chromium/required.ts'
const browserTests = ['test/**/*.browser.test.ts']
const chromiumProject: TestProjectInlineConfiguration =
  chromiumMissing() === undefined
    ? {
        // Pre-bundled up front: discovering them mid-run makes Vite reload the page, and a test with it.
        optimizeDeps: { include: ['dexie', 'idb', 'fast-check'] },
        test: {
          name: 'chromium',
          include: browserTests,
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({ launchOptions: { executablePath: chromiumPath, args: chromiumArgs } }),
            instances: [{ browser: 'chromium' }],
          },
        },
      }
    : { test: { name: 'chromium', include: browserTests, environment: 'node', setupFiles: [requireChromium] } }

// One `vitest run` for every project, each named so a failure says where it ran:
// node (engine, memory adapter, CI counting, bundle size), dom (browser adapters on happy-dom + fake-indexeddb, fast),
// chromium (browser adapters in real Chromium through vitest browser mode), chromium-e2e (tabs driven by Playwright),
// wrangler-e2e (the real Worker in `wrangler dev`), workers (inside workerd).
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
      chromiumProject,
      {
        // Real Chromium driven from Node by Playwright (test/chromium/ harness): several tabs, reloads, crashes, quota.
        test: {
          name: 'chromium-e2e',
          include: ['test/**/browser-*.e2e.test.ts'],
          environment: 'node',
          setupFiles: [requireChromium],
          testTimeout: 15_000,
          hookTimeout: 20_000,
        },
      },
      {
        // The real Worker served by `wrangler dev` (test/wrangler-fixture.ts), called over HTTP from Node.
        test: {
          name: 'wrangler-e2e',
          include: ['test/**/*.e2e.test.ts'],
          exclude: ['test/**/browser-*.e2e.test.ts'],
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
