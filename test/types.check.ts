/**
 * Type-level tests, checked by `npm run typecheck` (part of `npm test`): each `@ts-expect-error` must
 * flag a real misuse, or tsc fails with "unused @ts-expect-error".
 */
import { z } from 'zod'
import { Command, END, START, StateGraph, channel } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'

const channels = {
  count: { default: () => 0 },
  messages: { default: (): string[] => [], reducer: (a: string[], b: string[]) => [...a, ...b] },
  note: channel<string | null>(),
}

export function nodesSeeTheStateType() {
  new StateGraph(channels).addNode('a', (s) => {
    const n: number = s.count
    const m: string[] = s.messages
    const note: string | null = s.note
    // @ts-expect-error count is a number, not a string
    const wrong: string = s.count
    return { count: n + m.length + (note?.length ?? 0) + wrong.length }
  })
}

export function unknownKeysFailToCompile() {
  // @ts-expect-error "bogus" is not a channel
  new StateGraph(channels).addNode('a', () => ({ bogus: 1 }))
  // @ts-expect-error a reducer channel takes its update type (string[]), not a string
  new StateGraph(channels).addNode('a', () => ({ messages: 'hi' }))
  // @ts-expect-error Command updates are checked too
  new StateGraph(channels).addNode('a', () => new Command({ update: { count: 'one' } }))
  new StateGraph(channels).addNode('a', async () => ({ messages: ['ok'] }))
}

export function edgesNameKnownNodes() {
  const g = new StateGraph(channels).addNode('a', () => ({})).addNode('b', () => ({}))
  g.addEdge(START, 'a').addEdge('a', 'b').addEdge('b', END)
  // @ts-expect-error "c" was never added
  g.addEdge('a', 'c')
  // @ts-expect-error interruptBefore takes node names
  g.compile({ interruptBefore: ['nope'] })
}

export async function schemaStateFlowsIntoNodes() {
  const graph = new StateGraph(z.object({ count: z.number(), label: z.string() }))
    .addNode('a', (s) => ({ count: s.count + 1 }))
    // @ts-expect-error label is a string
    .addNode('b', () => ({ label: 3 }))
    .addEdge(START, 'a')
    .compile({ checkpointer: createMemoryAdapter() })
  const out = await graph.invoke({ count: 1 }, { threadId: 't' })
  const label: string = out.label
  return label
}

export function explicitChannelTypes() {
  const explicit = {
    seen: channel<Set<string>, string>({ reducer: (s, id) => new Set(s).add(id), default: () => new Set<string>() }),
    note: channel<string | null>({ default: () => null }),
  }
  new StateGraph(explicit).addNode('a', (s) => {
    const seen: Set<string> = s.seen
    return { seen: `${seen.size}`, note: null }
  })
  // @ts-expect-error the reducer takes a string update, not a Set
  new StateGraph(explicit).addNode('a', () => ({ seen: new Set<string>() }))
}

export function migrationsAreStateFunctions() {
  const g = new StateGraph(channels).addNode('a', () => ({})).addEdge(START, 'a').addEdge('a', END)
  // A migration may annotate the old state's shape; it returns the whole new state.
  g.compile({ version: 2, migrations: { 2: ({ total, ...rest }: { total: number }) => ({ ...rest, count: total }) } })
  // @ts-expect-error a migration is a function of the state
  g.compile({ version: 2, migrations: { 2: { count: 0 } } })
  // @ts-expect-error a migration returns the new state object
  g.compile({ version: 2, migrations: { 2: (s: Record<string, unknown>) => JSON.stringify(s) } })
}
