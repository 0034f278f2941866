/**
 * The run loop's two paths through a step: at once (a node and conditional edges that return values) and through
 * awaits (promises). Both must route, retry and fail alike, and store the same history.
 */
import { describe, expect, it } from 'vitest'
import { END, START, StateGraph } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { collect, rejectsWith } from './helpers.js'

type Mode = 'sync' | 'async'
const maybe = <T>(mode: Mode, value: T): T | Promise<T> => (mode === 'sync' ? value : Promise.resolve(value))

/** A node `a` with three conditional edges (modes as given) that each route to their own node while n < 3. */
function branching(modes: [Mode, Mode, Mode], calls: string[]) {
  const graph = new StateGraph({ n: { default: () => 0 }, seen: { default: (): string[] => [], reducer: (a: string[], b: string[]) => a.concat(b) } })
    .addNode('a', (s) => ({ n: s.n + 1 }))
    .addNode('x', () => ({ seen: ['x'] }))
    .addNode('y', () => ({ seen: ['y'] }))
    .addNode('z', () => ({ seen: ['z'] }))
    .addEdge(START, 'a')
    .addEdge('x', 'a')
  return (['x', 'y', 'z'] as const)
    .reduce(
      (g, to, i) =>
        g.addConditionalEdges('a', (s) => {
          calls.push(`${to}:${s.n}`)
          return maybe(modes[i] as Mode, s.n < 3 ? to : END)
        }),
      graph,
    )
    .compile({ checkpointer: createMemoryAdapter() })
}

describe('a step that ends at once and one that awaits', () => {
  const all: [Mode, Mode, Mode][] = [
    ['sync', 'sync', 'sync'],
    ['async', 'sync', 'sync'],
    ['sync', 'async', 'sync'],
    ['sync', 'sync', 'async'],
    ['async', 'async', 'async'],
  ]
  for (const modes of all) {
    it(`conditional edges (${modes.join(', ')}) are called in order, once each, and route alike`, async () => {
      const calls: string[] = []
      const g = branching(modes, calls)
      const out = await g.invoke({}, { threadId: 't' })
      expect(out).toEqual({ n: 3, seen: ['x', 'y', 'z', 'x', 'y', 'z'] })
      expect(calls).toEqual(['x:1', 'y:1', 'z:1', 'x:2', 'y:2', 'z:2', 'x:3', 'y:3', 'z:3'])
      const history = await collect(g.getStateHistory({ threadId: 't' }))
      expect(history.map((h) => h.next)).toEqual([[], ['a'], ['x', 'y', 'z'], ['a'], ['x', 'y', 'z'], ['a']])
    })
  }

  for (const mode of ['sync', 'async'] as const) {
    it(`a conditional edge that fails (${mode}) is NODE_FAILED naming it, and the step is not stored`, async () => {
      const g = new StateGraph({ n: { default: () => 0 } })
        .addNode('a', (s) => ({ n: s.n + 1 }))
        .addEdge(START, 'a')
        .addConditionalEdges('a', (s) => (s.n < 2 ? 'a' : END))
        .addConditionalEdges('a', (s) => {
          if (s.n < 2) return END
          if (mode === 'sync') throw new Error('no route')
          return Promise.reject(new Error('no route'))
        })
        .compile({ checkpointer: createMemoryAdapter() })
      const err = await rejectsWith(g.invoke({}, { threadId: 't' }), 'NODE_FAILED')
      expect(err.message).toContain('conditional edge after "a" failed')
      expect(err.message).toContain('no route')
      expect((await g.getState({ threadId: 't' })).values).toEqual({ n: 1 })
    })

    it(`a node that throws (${mode}) is tried again by its retry policy, then its writes land once`, async () => {
      let calls = 0
      const g = new StateGraph({ n: { default: () => 0 } })
        .addNode(
          'a',
          (s) => {
            calls++
            if (calls < 3) {
              if (mode === 'sync') throw new Error('flaky')
              return Promise.reject(new Error('flaky'))
            }
            return maybe(mode, { n: s.n + 1 })
          },
          { retryPolicy: { maxAttempts: 3, initialInterval: 1, jitter: false } },
        )
        .addEdge(START, 'a')
        .addEdge('a', END)
        .compile({ checkpointer: createMemoryAdapter() })
      expect(await g.invoke({}, { threadId: 't' })).toEqual({ n: 1 })
      expect(calls).toBe(3)
      const last = await g.getState({ threadId: 't' })
      expect(last.metadata?.attempts).toEqual({ a: 3 })
    })
  }
})
