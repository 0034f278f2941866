/** @module The example graphs `npm run dev` registers and the worker tests use: a counter, and a chat that asks a human. */
/*
 * - `counter`: counts up to `target` (default 5), one step per increment; `delayMs` waits in each step, so a run
 *   can be watched (SSE) or cut short (eviction tests).
 * - `chat`: appends the user's message, drafts a reply, and asks a human to approve it with `interrupt()` before
 *   it is added to `messages`.
 */
import { END, START, StateGraph } from '../src/index.js'
import type { StorageAdapter } from '../src/checkpoint/adapter.js'

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Counts from `count` up to `target`, one step per increment, waiting `delayMs` in each. */
export function counterGraph(checkpointer: StorageAdapter) {
  return new StateGraph({ count: { default: () => 0 }, target: { default: () => 5 }, delayMs: { default: () => 0 } })
    .addNode('increment', async (s) => {
      if (s.delayMs > 0) await sleep(s.delayMs)
      return { count: s.count + 1 }
    })
    .addEdge(START, 'increment')
    .addConditionalEdges('increment', (s) => (s.count >= s.target ? END : 'increment'))
    .compile({ checkpointer })
}

interface Message {
  role: 'user' | 'assistant'
  content: string
}

/** Appends the user's message, drafts a reply, and asks a human to approve (or edit) it before it is added. */
export function chatGraph(checkpointer: StorageAdapter) {
  return new StateGraph({
    messages: { default: (): Message[] => [], reducer: (a: Message[], b: Message[]) => [...a, ...b] },
    draft: { default: () => '' },
  })
    .addNode('write', (s) => {
      const last = s.messages.at(-1)
      return { draft: `You said: ${last?.content ?? ''}` }
    })
    .addNode('review', (s, ctx) => {
      const verdict = ctx.interrupt<{ approve: boolean; edit?: string }>({ question: 'Send this reply?', draft: s.draft })
      if (!verdict.approve) return { draft: '' }
      return { messages: [{ role: 'assistant' as const, content: verdict.edit ?? s.draft }], draft: '' }
    })
    .addEdge(START, 'write')
    .addEdge('write', 'review')
    .addEdge('review', END)
    .compile({ checkpointer })
}

/** The example graphs by name, as `createEdgegraphWorker({ graphs })` takes them. */
export const exampleGraphs = { counter: counterGraph, chat: chatGraph }
