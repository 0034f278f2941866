/** LangGraph.js side of the benchmark: the same two graphs with Annotation state over MemorySaver. */
import { Annotation, END, MemorySaver, START, StateGraph } from '@langchain/langgraph'
import type { Subject, SubjectOptions } from './subject.js'
import { progress } from '../workloads.js'

const CounterState = Annotation.Root({ count: Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }) })
const ChatState = Annotation.Root({ messages: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }) })

export function langgraphSubject({ workload, n, messages, onStep }: SubjectOptions): Subject {
  const saver = new MemorySaver()
  const compile = () => {
    if (workload === 'counter') {
      return new StateGraph(CounterState)
        .addNode('increment', (s) => {
          onStep()
          return { count: s.count + 1 }
        })
        .addEdge(START, 'increment')
        .addConditionalEdges('increment', (s) => (s.count >= n ? END : 'increment'), ['increment', END])
        .compile({ checkpointer: saver })
    }
    return new StateGraph(ChatState)
      .addNode('chat', (s) => {
        onStep()
        return { messages: [messages[s.messages.length] as string] }
      })
      .addEdge(START, 'chat')
      .addConditionalEdges('chat', (s) => (s.messages.length >= n ? END : 'chat'), ['chat', END])
      .compile({ checkpointer: saver })
  }
  const input = workload === 'counter' ? { count: 0 } : { messages: [] }
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

/**
 * Bytes MemorySaver holds, counted like the edgegraph memory adapter counts keys + values:
 * storage[thread][ns][checkpointId] = [checkpoint blob, metadata blob, parentId] → id + both blobs + parentId;
 * writes[outerKey][innerKey] = [taskId, channel, value blob, taskPath] → both keys + every field.
 * Thread and namespace names are not counted per checkpoint (they are shared map levels).
 */
function memorySaverBytes(saver: MemorySaver): number {
  const len = (x: unknown): number => (x instanceof Uint8Array ? x.byteLength : typeof x === 'string' ? Buffer.byteLength(x) : 0)
  let total = 0
  for (const byNs of Object.values(saver.storage)) {
    for (const byId of Object.values(byNs)) {
      for (const [id, entry] of Object.entries(byId)) total += len(id) + entry.reduce((sum: number, part) => sum + len(part), 0)
    }
  }
  for (const [outer, byInner] of Object.entries(saver.writes)) {
    for (const [inner, entry] of Object.entries(byInner)) total += len(outer) + len(inner) + entry.reduce((sum: number, part) => sum + len(part), 0)
  }
  return total
}
