/** Browser side of the LangGraph.js baseline: `window.lg` runs the counter and chat graphs over MemorySaver in Chromium. */
import { Annotation, END, MemorySaver, START, StateGraph } from '@langchain/langgraph/web'
import { checkFinal, checkHistory, makeMessages, progress, type Workload } from './workloads.js'

export interface LangGraphSample {
  usPerStep: number
  usPerStepMean: number
  runMs: number
  bytesStored: number
  getStateMs: number
  historyMs: number
  checkpoints: number
  jsHeapMb: number
}

const CounterState = Annotation.Root({ count: Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }) })
const ChatState = Annotation.Root({ messages: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }) })
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN
const config = (threadId: string) => ({ configurable: { thread_id: threadId } })

/** The same two graphs as bench/engines/langgraph.ts. */
function graph(workload: Workload, n: number, saver: MemorySaver, messages: readonly string[], onStep: () => void = () => {}) {
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

async function runOnce(workload: Workload, n: number, messages: readonly string[]): Promise<LangGraphSample> {
  const saver = new MemorySaver()
  const stamps: number[] = []
  const input = workload === 'counter' ? { count: 0 } : { messages: [] }
  const t0 = performance.now()
  const final = await graph(workload, n, saver, messages, () => stamps.push(performance.now())).invoke(input as never, { ...config('t'), recursionLimit: n + 10 })
  const runMs = performance.now() - t0
  checkFinal(workload, n, messages, final as Record<string, unknown>, 'LangGraph invoke')
  if (stamps.length !== n) throw new Error(`node ran ${stamps.length} times, expected ${n}`)

  const t1 = performance.now()
  const state = await graph(workload, n, saver, messages).getState(config('t'))
  const getStateMs = performance.now() - t1
  checkFinal(workload, n, messages, state.values as Record<string, unknown>, 'LangGraph getState')

  const t2 = performance.now()
  const seen: number[] = []
  for await (const s of graph(workload, n, saver, messages).getStateHistory(config('t'))) seen.push(progress(workload, s.values as Record<string, unknown>))
  const historyMs = performance.now() - t2
  checkHistory(n, seen, 'LangGraph getStateHistory')

  const gaps = stamps.slice(1).map((t, i) => (t - (stamps[i] as number)) * 1000)
  const memory = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory
  return {
    usPerStep: median(gaps),
    usPerStepMean: gaps.reduce((a, b) => a + b, 0) / Math.max(1, gaps.length),
    runMs,
    bytesStored: memorySaverBytes(saver),
    getStateMs,
    historyMs,
    checkpoints: seen.length,
    jsHeapMb: (memory?.usedJSHeapSize ?? Number.NaN) / 2 ** 20,
  }
}

/** Bytes MemorySaver holds, counted as bench/engines/langgraph.ts counts them (ids + blobs + pending writes). */
function memorySaverBytes(saver: MemorySaver): number {
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

const lg = {
  /** A warm-up run of `warmupSteps` on its own saver and thread, then the timed run on a fresh saver. */
  async run(c: { workload: Workload; n: number; warmupSteps: number }): Promise<LangGraphSample> {
    const messages = c.workload === 'chat' ? makeMessages(Math.max(c.n, c.warmupSteps)) : []
    await runOnce(c.workload, c.warmupSteps, messages)
    return runOnce(c.workload, c.n, messages)
  },
}

declare global {
  interface Window {
    lg: typeof lg
  }
}
window.lg = lg
