/** Bundle-size budget: the counter example (core + memory adapter), bundled for the browser, minified, gzip -9. */
import { expect, it } from 'vitest'
import { BUDGET_BYTES, GOAL_BYTES, kb, measureCounter } from '../bench/size.js'

it(`the counter example bundles to at most ${BUDGET_BYTES / 1024} KB min+gz`, async () => {
  const bundle = await measureCounter()
  expect(bundle.ok, `the counter example could not be bundled for the browser: ${bundle.error}`).toBe(true)
  const largest = (bundle.top ?? []).map(([path, bytes]) => `${path.replace(/^\.\.\//, '')} ${bytes} B`).join(', ')
  expect(
    bundle.gzipBytes,
    `the counter example is ${kb(bundle.gzipBytes)} KB min+gz, over its ${BUDGET_BYTES / 1024} KB budget ` +
      `(long-term goal ${GOAL_BYTES / 1024} KB; largest parts, minified: ${largest}). \`npm run size\` shows the whole table.`,
  ).toBeLessThanOrEqual(BUDGET_BYTES)
}, 30_000)
