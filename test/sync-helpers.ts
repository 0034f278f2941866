/** Shared by the sync tests: a small chat graph with an optional interrupt, and a thread's history as plain data. */
import { END, START, StateGraph } from '../src/index.js'
import type { StorageAdapter } from '../src/checkpoint/adapter.js'
import { appendList } from './helpers.js'

/** A chat turn (3 checkpoints: input, review, reply); with `ask`, review interrupts to ask before replying. */
export function chat(store: StorageAdapter, packSize = 64) {
  return new StateGraph({ messages: appendList, ask: { default: () => false } })
    .addNode('reply', (s) => ({ messages: [`re: ${s.messages[s.messages.length - 1]}`] }))
    .addNode('review', (s, ctx) => {
      if (!s.ask) return {}
      const ok = ctx.interrupt<string>({ question: 'send?' })
      return { messages: [`review: ${ok}`] }
    })
    .addEdge(START, 'review')
    .addEdge('review', 'reply')
    .addEdge('reply', END)
    .compile({ checkpointer: { adapter: store, packSize } })
}

export type Chat = ReturnType<typeof chat>

export async function say(g: Chat, thread: string, text: string) {
  return g.invoke({ messages: [text] }, { threadId: thread })
}

/** Every checkpoint of a thread as comparable data: id, parent, values, next, interrupts; oldest first. */
export async function historyOf(g: Chat, thread: string) {
  const out: unknown[] = []
  for await (const s of g.getStateHistory({ threadId: thread })) {
    out.push({ id: s.config.checkpointId, parent: s.parentConfig?.checkpointId, values: s.values, next: s.next, tasks: s.tasks.map((t) => [t.name, t.interrupts.map((i) => i.value)]) })
  }
  return out.reverse()
}

