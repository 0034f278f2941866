/** Browser side of the LangGraph.js baseline: `window.lg` runs the counter and chat graphs over MemorySaver in Chromium. */
import { Annotation, END, MemorySaver, START, StateGraph } from '@langchain/langgraph/web'
import { checkFinal, checkHistory, makeMessages, progress, type Workload } from './workloads.js'
import { langgraphGraphs, memorySaverBytes } from './engines/langgraph-graphs.js'
import { stepFigures, type StepFigures } from './browser-report.js'

/** What one fresh page measures of LangGraph.js over MemorySaver (the same figures as edgegraph's, without storage ones). */
export interface LangGraphSample extends StepFigures {
  runMs: number
  bytesStored: number
  getStateMs: number
  historyMs: number
  checkpoints: number
}

const config = (threadId: string) => ({ configurable: { thread_id: threadId } })
/** The same two graphs as in Node and workerd. */
const graph = langgraphGraphs({ Annotation, StateGraph, START, END })

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

  return { ...stepFigures(stamps, runMs, n), runMs, bytesStored: memorySaverBytes(saver), getStateMs, historyMs, checkpoints: seen.length }
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
