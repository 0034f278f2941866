/** @module The example graphs `npm run dev` registers and the worker tests use: a counter, and a chat that asks a human. */
/*
 * - `counter`: counts up to `target` (default 5, at most 1000), one step per increment; `delayMs` (at most 1000)
 *   waits in each step, so a run can be watched (SSE) or cut short (eviction tests).
 * - `chat`: appends the user's message, drafts a reply, and asks a human to approve it with `interrupt()` before
 *   it is added to `messages`.
 *
 * Their channels have schemas, so a client cannot choose unbounded step counts or delays, and a value of the wrong
 * type is a 400 naming the channel and what it expects (not an exception from inside a node).
 */
import { z } from 'zod'
import { END, START, StateGraph, EdgegraphError } from '../src/index.js'
import type { StorageAdapter } from '../src/checkpoint/adapter.js'

/** Waits `ms`, or less when the run is stopped (cancel, delete, deadline). */
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true })
  })

/** Counts from `count` up to `target`, one step per increment, waiting `delayMs` in each. */
export function counterGraph(checkpointer: StorageAdapter) {
  const upTo = (max: number) => z.number().int().min(0).max(max)
  return new StateGraph({
    count: { default: () => 0, schema: upTo(1000) },
    target: { default: () => 5, schema: upTo(1000) },
    delayMs: { default: () => 0, schema: upTo(1000) },
  })
    .addNode('increment', async (s, ctx) => {
      if (s.delayMs > 0) await sleep(s.delayMs, ctx.signal)
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
    messages: {
      default: (): Message[] => [],
      // A lone message is taken as a list of one; anything else is left for the schema to refuse by name.
      reducer: (a: Message[], b: Message[] | Message) => [...a, ...(Array.isArray(b) ? b : [b])],
      schema: z.array(z.strictObject({ role: z.enum(['user', 'assistant']), content: z.string().max(10_000) })).max(1000),
    },
    draft: { default: () => '', schema: z.string().max(20_000) },
  })
    .addNode('write', (s) => {
      const last = s.messages.at(-1)
      return { draft: `You said: ${last?.content ?? ''}` }
    })
    .addNode('review', (s, ctx) => {
      const verdict = ctx.interrupt<{ approve: boolean; edit?: string }>({ question: 'Send this reply?', draft: s.draft })
      if (verdict === null || typeof verdict !== 'object' || typeof verdict.approve !== 'boolean' || (verdict.edit !== undefined && typeof verdict.edit !== 'string')) {
        throw new EdgegraphError('INVALID_ARGUMENT', 'resume the review with { "approve": true | false, "edit"?: "new text" }')
      }
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
