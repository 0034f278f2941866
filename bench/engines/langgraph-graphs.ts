/**
 * @module The LangGraph.js side of every benchmark (Node, Chromium, workerd): the counter and chat graphs with
 * Annotation state, and the bytes a MemorySaver holds. Each runtime passes the LangGraph entry it can load
 * (`@langchain/langgraph` in Node and workerd, `@langchain/langgraph/web` in the browser).
 */
import type { Annotation, END, MemorySaver, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph/web'
import { reactCalledTool, reactModel, reactTool, type Workload } from '../workloads.js'

export interface LangGraphModule {
  Annotation: typeof Annotation
  StateGraph: typeof StateGraph
  START: typeof START
  END: typeof END
  /** For the react workload (LangGraph's messages channel: plain objects become LangChain messages). */
  MessagesAnnotation?: typeof MessagesAnnotation
}

/**
 * The graph builder for one LangGraph entry (state schemas made once, as a module-level Annotation would be):
 * `(workload, n, saver, messages, onStep)` compiles the workload's graph over `saver`; `onStep` runs at the start
 * of every node call (the timing hook).
 */
export function langgraphGraphs(lg: LangGraphModule) {
  const { Annotation, StateGraph, START, END, MessagesAnnotation } = lg
  const CounterState = Annotation.Root({ count: Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }) })
  const ChatState = Annotation.Root({ messages: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }) })
  return (workload: Workload, n: number, saver: MemorySaver, messages: readonly string[], onStep: () => void = () => {}) => {
    if (workload === 'react') {
      if (!MessagesAnnotation) throw new Error('the react workload needs MessagesAnnotation from the LangGraph entry')
      const text = (i: number) => messages[i] as string
      return new StateGraph(MessagesAnnotation)
        .addNode('model', (s) => {
          onStep()
          return { messages: [reactModel(s.messages.length, n, text)] }
        })
        .addNode('tools', (s) => {
          onStep()
          return { messages: [reactTool(s.messages.length, text)] }
        })
        .addEdge(START, 'model')
        .addConditionalEdges('model', (s) => (reactCalledTool(s.messages.at(-1) as never) ? 'tools' : END), ['tools', END])
        .addConditionalEdges('tools', (s) => (s.messages.length >= n ? END : 'model'), ['model', END])
        .compile({ checkpointer: saver })
    }
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
}

/**
 * Bytes MemorySaver holds, counted like the edgegraph memory adapter counts keys + values:
 * storage[thread][ns][checkpointId] = [checkpoint blob, metadata blob, parentId] → id + both blobs + parentId;
 * writes[outerKey][innerKey] = [taskId, channel, value blob, taskPath] → both keys + every field.
 * Thread and namespace names are not counted per checkpoint (they are shared map levels).
 */
export function memorySaverBytes(saver: MemorySaver): number {
  const utf8 = new TextEncoder()
  const len = (x: unknown): number => (x instanceof Uint8Array ? x.byteLength : typeof x === 'string' ? utf8.encode(x).byteLength : 0)
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
