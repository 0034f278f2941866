/** edgegraph side of the benchmark: the counter, chat and react graphs over the in-memory adapter. */
import { END, MessagesValue, START, StateGraph, type StorageAdapter } from '../../src/index.js'
import { createMemoryAdapter } from '../../adapters/memory.js'
import { withEncryption } from '../../src/encryption.js'
import type { Subject, SubjectOptions } from './subject.js'
import { over } from '../../test/conformance/over.js'
import { inputOf, progress, reactCalledTool, reactModel, reactTool, type Workload } from '../workloads.js'

/** The graph of `workload` in bench/workloads.ts over `store`; `onStep` is called first thing in every node call. */
export function benchGraph(workload: Workload, n: number, store: StorageAdapter, message: (i: number) => string, onStep: () => void = () => {}) {
  if (workload === 'react') {
    // Plain-object messages with LangGraph's reducer (MessagesValue), as a browser app would keep them.
    return new StateGraph({ messages: MessagesValue })
      .addNode('model', (s) => {
        onStep()
        return { messages: [reactModel(s.messages.length, n, message)] }
      })
      .addNode('tools', (s) => {
        onStep()
        return { messages: [reactTool(s.messages.length, message)] }
      })
      .addEdge(START, 'model')
      .addConditionalEdges('model', (s) => (reactCalledTool(s.messages.at(-1) as never) ? 'tools' : END))
      .addConditionalEdges('tools', (s) => (s.messages.length >= n ? END : 'model'))
      .compile({ checkpointer: store })
  }
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

export function edgegraphSubject({ workload, n, messages, onStep, encrypted }: SubjectOptions): Subject {
  const memory = createMemoryAdapter()
  // Counts what each commit writes (keys + values), as a disk or a network would carry it.
  let written = 0
  const counted = over(memory, {
    commit: (t, batch, guard) => {
      for (const [key, value] of batch.put ?? []) written += key.length + value.length
      return memory.commit(t, batch, guard)
    },
  })
  // A fixed master key: the bench measures the cipher's cost, not key handling.
  const store = encrypted ? withEncryption(counted, { keys: { k1: new Uint8Array(32).fill(7) }, current: 'k1' }) : counted
  const compile = () => benchGraph(workload, n, store, (i) => messages[i] as string, onStep)
  const input = inputOf(workload, messages)

  return {
    store: encrypted ? 'memory + withEncryption' : 'memory',
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
    bytesStored: () => memory.bytes(),
    bytesWritten: () => written,
  }
}
