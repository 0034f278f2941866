/** LangGraph.js side of the benchmark: the same graphs with Annotation state over MemorySaver. */
import { Annotation, END, MemorySaver, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph'
import type { Subject, SubjectOptions } from './subject.js'
import { inputOf, progress } from '../workloads.js'
import { langgraphGraphs, memorySaverBytes } from './langgraph-graphs.js'

const graph = langgraphGraphs({ Annotation, StateGraph, START, END, MessagesAnnotation })

export function langgraphSubject({ workload, n, messages, onStep }: SubjectOptions): Subject {
  const saver = new MemorySaver()
  const compile = () => graph(workload, n, saver, messages, onStep)
  const input = inputOf(workload, messages)
  const config = (threadId: string) => ({ configurable: { thread_id: threadId } })

  return {
    store: 'MemorySaver',
    async run(threadId) {
      return compile().invoke(input, { ...config(threadId), recursionLimit: n + 10 })
    },
    async getState(threadId) {
      return (await compile().getState(config(threadId))).values as Record<string, unknown>
    },
    async history(threadId) {
      const seen: number[] = []
      for await (const snap of compile().getStateHistory(config(threadId))) seen.push(progress(workload, snap.values))
      return seen
    },
    bytesStored: () => memorySaverBytes(saver),
  }
}
