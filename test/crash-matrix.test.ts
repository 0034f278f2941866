/**
 * The crash matrix (issue 13, first part, in memory): a run with parallel tasks (Send), an interrupt, a node failure,
 * a fork, packs and chunked values, crashed before and after every adapter call it makes, in each durability mode. After each crash a
 * fresh graph on the surviving store finds out where the thread stands (getState) and goes on; the end state and the
 * history must equal those of an uninterrupted run (with 'exit', the end state, and no checkpoint stored twice),
 * every step stored once, no chunk left behind. The scenario and the fault wrapper live in test/crash/ (runtime-neutral);
 * the same matrix, sampled, runs in real Chromium (test/crash-matrix.browser.test.ts) and in workerd
 * (test/workers/crash-matrix.spec.ts). Not yet: side effects.
 */
import { describe, expect, it } from 'vitest'
import { START, StateGraph } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import type { StorageAdapter } from '../src/checkpoint/adapter.js'
import { appendList, over, rejectsWith } from './helpers.js'
import { allPoints, durabilities, expectations, reference, runCrashPoint } from './crash/script.js'

/**
 * A memory store whose commits land a timer turn later, as IndexedDB's do: with 'async' the run's steps (all
 * microtasks here) go on meanwhile and join the queued commit, so the matrix also crashes group commits.
 */
function slowCommits(inner: StorageAdapter): StorageAdapter {
  return over(inner, {
    commit: async (t, b, g) => {
      await new Promise((r) => setTimeout(r, 0))
      return inner.commit(t, b, g)
    },
  })
}

describe('crash matrix', () => {
  const modes = [...durabilities.map((durability) => ({ durability, slow: false })), { durability: 'async' as const, slow: true }]
  for (const { durability, slow } of modes) {
    const label = `durability ${durability}${slow ? ', commits a timer turn late (group commits)' : ''}`
    it(`crashes before and after every adapter call of the script (${label}); recovery ends where an uninterrupted run does`, async () => {
      // How many calls the script makes: every one of them is a crash point, before and after.
      // Values above 96 bytes are chunked, so crashes also cut chunked records and packs apart.
      const store = () => (slow ? slowCommits(createMemoryAdapter({ maxValueBytes: 96 })) : createMemoryAdapter({ maxValueBytes: 96 }))
      const { history: expected, calls } = await reference(store(), durability)
      let tested = 0
      for (const point of allPoints(calls)) {
        const s = store()
        const outcome = await runCrashPoint({ durability, point, open: () => s })
        for (const { label, got, want } of expectations(expected, outcome, durability)) expect(got, label).toEqual(want)
        tested++
      }
      expect(tested).toBe(calls * 2)
      console.info(`crash matrix, ${label}: ${tested} crash points (${calls} adapter calls, before and after each)`)
    }, 120_000)
  }
})

describe('errors tell the truth about the outcome', () => {
  it('a commit that failed after it landed is reported as possibly landed, and getState shows it did', async () => {
    const store = createMemoryAdapter()
    let cut = false
    const flaky = over(store, {
      commit: async (t, b, g) => {
        await store.commit(t, b, g)
        if (!cut) {
          cut = true
          throw new Error('connection reset')
        }
      },
    })
    const g = new StateGraph({ log: appendList }).addNode('a', () => ({ log: ['a'] })).addEdge(START, 'a').compile({ checkpointer: flaky })
    const err = await rejectsWith(g.invoke({ log: ['in'] }, { threadId: 't' }), 'STORAGE_FAILED')
    expect(err.message).toMatch(/may or may not have landed: read the thread \(getState\) before repeating an input/)
    // It did land: the input is stored; continuing (not repeating the input) finishes the turn once.
    expect((await g.getState({ threadId: 't' })).values.log).toEqual(['in'])
    expect((await g.invoke(null, { threadId: 't' })).log).toEqual(['in', 'a'])
  })
})
