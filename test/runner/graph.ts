/** The graph the runner processes run: each thread appends `step i` for STEPS steps, with a little work in each. */
import { END, START, StateGraph, type StorageAdapter } from '../../src/index.js'

export const STEPS = 8

export function workerGraph(store: StorageAdapter) {
  return new StateGraph({ log: { default: (): string[] => [], reducer: (a: string[], b: string[]) => [...a, ...b] } })
    .addNode('work', async (s) => {
      // Some work between steps (an await, as a model call would be), so a kill lands mid-run.
      await new Promise((r) => setTimeout(r, 2))
      return { log: [`step ${s.log.length}`] }
    })
    .addEdge(START, 'work')
    .addConditionalEdges('work', (s) => (s.log.length >= STEPS + 1 ? END : 'work'))
    .compile({ checkpointer: store })
}
