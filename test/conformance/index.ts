/**
 * @module The storage-adapter conformance suite: one function every adapter's test file calls, so each backend
 * is held to the same contract, from single keys up to random graph histories read back by a fresh graph.
 *
 * @example
 * // test/memory.conformance.test.ts
 * runConformance({ name: 'memory', create: () => createMemoryAdapter() })
 */
import { describe, expect, it } from 'vitest'
import { adapterTests } from './adapter.js'
import { historyTests } from './history.js'
import { randomHistoryTests } from './random-history.js'
import { retentionTests } from './retention.js'
import { storeTests } from './store.js'
import { namedTests, type ConformanceOptions } from './suite.js'

export type { ConformanceOptions } from './suite.js'

/**
 * Registers the conformance tests for one adapter. Tests an adapter cannot pass are skipped by exact title
 * with a reason (`skip`); a skip that names no test is an error, so a renamed test cannot hide behind it.
 */
export function runConformance(options: ConformanceOptions): void {
  describe(`conformance: ${options.name} adapter`, () => {
    const { test, unusedSkips } = namedTests(options)
    adapterTests(options, test)
    historyTests(options, test)
    randomHistoryTests(options, test)
    retentionTests(options, test)
    storeTests(options, test)
    // Checked once vitest has collected the nested describes (their callbacks run after this one returns).
    if ((options.skip ?? []).length > 0) {
      it('skips only tests that exist', () => {
        expect(unusedSkips(), `runConformance(${options.name}): skip names no such test`).toEqual([])
      })
    }
  })
}
