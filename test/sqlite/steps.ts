/** @module The graph the SQLite process tests run and kill: one node, called once per step, appending the step's number. */
import { END, START, StateGraph } from '../../src/index.js'
import type { StorageAdapter } from '../../src/checkpoint/adapter.js'

/** The thread two processes race guarded commits on. */
export const RACE = 'race'

/** Steps of a full run; the run needs a `recursionLimit` above it. */
export const STEPS = 120

/** Counts to {@link STEPS}, one step at a time; `onStep` hears each node call (a step may be called again after a crash). */
export function stepsGraph(adapter: StorageAdapter, onStep: (n: number) => void = () => {}) {
  return new StateGraph({ log: { default: (): number[] => [], reducer: (a: number[], b: number[]) => [...a, ...b] } })
    .addNode('step', (s) => {
      const n = s.log.length + 1
      onStep(n)
      return { log: [n] }
    })
    .addEdge(START, 'step')
    .addConditionalEdges('step', (s) => (s.log.length >= STEPS ? END : 'step'))
    .compile({ checkpointer: adapter })
}
