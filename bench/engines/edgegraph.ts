/** edgegraph side of the benchmark: the counter and chat graphs over the in-memory adapter. */
import { END, START, StateGraph, type StorageAdapter } from '../../src/index.js'
import { createMemoryAdapter } from '../../adapters/memory.js'
import type { Subject, SubjectOptions } from './subject.js'
import { progress, type Workload } from '../workloads.js'

/** The counter or chat graph of bench/workloads.ts over `store`; `onStep` is called first thing in every node call. */
export function benchGraph(workload: Workload, n: number, store: StorageAdapter, message: (i: number) => string, onStep: () => void = () => {}) {
  if (workload === 'counter') {
    return new StateGraph({ count: { default: () => 0 } })
      .addNode('increment', (s) => {
        onStep()
        return { count: s.count + 1 }
      })
      .addEdge(START, 'increment')
      .addConditionalEdges('increment', (s) => (s.count >= n ? END : 'increment'))
      .compile({ checkpointer: store })
  }
  return new StateGraph({ messages: { default: (): string[] => [], reducer: (a: string[], b: string[]) => a.concat(b) } })
    .addNode('chat', (s) => {
      onStep()
      return { messages: [message(s.messages.length)] }
    })
    .addEdge(START, 'chat')
    .addConditionalEdges('chat', (s) => (s.messages.length >= n ? END : 'chat'))
    .compile({ checkpointer: store })
}

export function edgegraphSubject({ workload, n, messages, onStep }: SubjectOptions): Subject {
  const store = createMemoryAdapter()
  const compile = () => benchGraph(workload, n, store, (i) => messages[i] as string, onStep)
  const input = workload === 'counter' ? { count: 0 } : { messages: [] }

  return {
    store: 'memory',
    async run(threadId) {
      return compile().invoke(input, { threadId, recursionLimit: n + 10 })
    },
    async getState(threadId) {
      return (await compile().getState({ threadId })).values
    },
    async history(threadId) {
      const seen: number[] = []
      for await (const snap of compile().getStateHistory({ threadId })) seen.push(progress(workload, snap.values))
      return seen
    },
    bytesStored: () => store.bytes(),
  }
}
