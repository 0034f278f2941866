/**
 * The messages channel: messagesStateReducer against LangGraph.js's own reducer on the same inputs, what it
 * keeps and copies, and what a chat on MessagesValue stores.
 */
import { messagesStateReducer as langgraphReducer } from '@langchain/langgraph'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createMemoryAdapter } from '../adapters/memory.js'
import { diff } from '../src/checkpoint/delta.js'
import { END, MessagesValue, REMOVE_ALL_MESSAGES, START, StateGraph, isEdgegraphError, messagesStateReducer, type Message, type Messages } from '../src/index.js'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** Deeply frozen, so any change the reducer makes to its inputs throws. */
function frozen<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) frozen(v)
    Object.freeze(value)
  }
  return value
}

describe('messagesStateReducer', () => {
  const hi = { id: '1', role: 'user', content: 'hi' }
  const hello = { id: '2', role: 'assistant', content: 'hello' }

  it('appends, keeping every message of the current list (the same objects) and never changing its inputs', () => {
    const current = frozen([hi])
    const update = frozen([hello])
    const next = messagesStateReducer(current, update)
    expect(next).toEqual([hi, hello])
    expect(next).not.toBe(current)
    expect(next[0]).toBe(hi)
    expect(next[1]).toBe(hello)
    // So a checkpoint stores only the appended message.
    expect(diff(current, next, { channel: 'messages', path: [] })).toEqual({ a: [hello] })
  })

  it('replaces a message with the same id in place, the other messages staying the same objects', () => {
    const third = { id: '3', role: 'user', content: 'bye' }
    const current = frozen([hi, hello, third])
    const edited = { id: '2', role: 'assistant', content: 'hello there' }
    const next = messagesStateReducer(current, edited)
    expect(next).toEqual([hi, edited, third])
    expect(next[0]).toBe(hi)
    expect(next[2]).toBe(third)
    // Replacing the last message (a streamed answer, say) stores that message alone.
    const last = { id: '3', role: 'user', content: 'bye!' }
    expect(diff(current, messagesStateReducer(current, last), { channel: 'messages', path: [] })).toEqual({ a: [last], t: 2 })
  })

  it('removes by id with { type: "remove", id }, and clears the list with REMOVE_ALL_MESSAGES', () => {
    const current = frozen([hi, hello])
    expect(messagesStateReducer(current, { type: 'remove', id: '1' })).toEqual([hello])
    expect(messagesStateReducer(current, [{ type: 'remove', id: REMOVE_ALL_MESSAGES }, 'fresh start'])).toEqual([{ role: 'user', content: 'fresh start', id: expect.stringMatching(UUID_V4) }])
    expect(() => messagesStateReducer(current, { type: 'remove', id: 'nope' })).toThrow('cannot remove message "nope": no message in the list has that id')
  })

  it('gives messages without an id a UUID v4 on a copy, keeping the copy plain or of its class', () => {
    class Note {
      id?: string
      constructor(public text: string) {}
      shout() {
        return this.text.toUpperCase()
      }
    }
    const note = frozen(new Note('psst'))
    const [a, b, c] = messagesStateReducer<Message | Note>([], ['hi', ['assistant', 'hello'], note] as never) as [Message, Message, Note]
    expect(a).toEqual({ role: 'user', content: 'hi', id: expect.stringMatching(UUID_V4) })
    expect(b).toEqual({ role: 'assistant', content: 'hello', id: expect.stringMatching(UUID_V4) })
    expect(c).toBeInstanceOf(Note)
    expect(c).not.toBe(note)
    expect(c.shout()).toBe('PSST')
    expect(c.id).toMatch(UUID_V4)
    expect(note.id).toBeUndefined()
    expect(new Set([a.id, b.id, c.id]).size).toBe(3)
    // A list whose messages have no ids (a default, say) gets them too, on copies.
    const bare = frozen([{ role: 'system', content: 'be brief' }])
    const [sys] = messagesStateReducer(bare, [])
    expect(sys).toEqual({ role: 'system', content: 'be brief', id: expect.stringMatching(UUID_V4) })
  })

  it('refuses what is not a message', () => {
    expect(() => messagesStateReducer([], [42 as never])).toThrow('a message must be an object, a string or a [role, content] pair, not 42')
    expect(() => messagesStateReducer([], null as never)).toThrow('not null')
  })

  it('types: plain messages and shorthands for Message lists, only the class for class lists', () => {
    const plain: Message[] = messagesStateReducer([hi], ['x', ['user', 'y'], { role: 'tool', content: 'z', tool_call_id: 'c1' }])
    class Msg {
      id?: string
    }
    const mine: Msg[] = messagesStateReducer([new Msg()], new Msg())
    expect(plain.length + mine.length).toBe(6)
    // Checked by tsc only (each line would throw): each must be a type error.
    const misuse = () => {
      // @ts-expect-error a list of class instances takes instances, not shorthands
      messagesStateReducer([new Msg()], 'hi')
      // @ts-expect-error a message is an object
      messagesStateReducer([hi], [42])
      // @ts-expect-error a node writes messages, not numbers, to a MessagesValue channel
      new StateGraph({ messages: MessagesValue }).addNode('a', () => ({ messages: 42 }))
    }
    expect(misuse).toBeTypeOf('function')
  })
})

// ---- The same inputs through LangGraph.js's messagesStateReducer --------------------------------------------------

type Kind = 'human' | 'ai' | 'system'
const KIND_OF: Record<string, Kind> = { human: 'human', user: 'human', ai: 'ai', assistant: 'ai', system: 'system' }
const POOL = ['a', 'b', 'c', 'd']

/** One item of an update, written in each form both reducers accept. */
const item = fc.oneof(
  fc.record({ kind: fc.constant('type' as const), type: fc.constantFrom('human', 'ai', 'system'), content: fc.string({ maxLength: 4 }), id: fc.option(fc.constantFrom(...POOL), { nil: undefined }) }),
  fc.record({ kind: fc.constant('role' as const), role: fc.constantFrom('user', 'assistant', 'system'), content: fc.string({ maxLength: 4 }), id: fc.option(fc.constantFrom(...POOL), { nil: undefined }) }),
  fc.record({ kind: fc.constant('string' as const), content: fc.string({ maxLength: 4 }) }),
  fc.record({ kind: fc.constant('pair' as const), role: fc.constantFrom('human', 'user', 'ai', 'assistant', 'system'), content: fc.string({ maxLength: 4 }) }),
  fc.record({ kind: fc.constant('remove' as const), by: fc.constantFrom('type', 'role'), id: fc.constantFrom(...POOL, REMOVE_ALL_MESSAGES) }),
)
type Item = typeof item extends fc.Arbitrary<infer T> ? T : never

/** The message-like an item stands for (a fresh object each time: LangGraph sets ids on what it is given). */
function messageLike(i: Item): Messages {
  switch (i.kind) {
    case 'type':
      return i.id === undefined ? { type: i.type, content: i.content } : { type: i.type, content: i.content, id: i.id }
    case 'role':
      return i.id === undefined ? { role: i.role, content: i.content } : { role: i.role, content: i.content, id: i.id }
    case 'string':
      return i.content
    case 'pair':
      return [i.role, i.content]
    case 'remove':
      return { [i.by]: 'remove', id: i.id }
  }
}

/** A message reduced to what both sides must agree on: kind, content, and its id (generated ids as a placeholder). */
function normalize(kind: string, content: unknown, id: unknown): [Kind | string, unknown, string] {
  const generated = typeof id === 'string' && UUID_V4.test(id)
  if (!generated && !POOL.includes(id as string)) throw new Error(`unexpected id ${String(id)}`)
  // A removal can end up in the list (one after a remove-all): LangChain's has content [], a plain one none.
  return [KIND_OF[kind] ?? kind, kind === 'remove' ? null : content, generated ? '<generated>' : (id as string)]
}
const ours = (list: Message[]) => list.map((m) => normalize((m.type ?? m.role) as string, m.content, m.id))
const theirs = (list: { getType(): string; content: unknown; id?: string | undefined }[]) => list.map((m) => normalize(m.getType(), m.content, m.id))

describe('parity with LangGraph.js messagesStateReducer', () => {
  it('gives the same list, or fails where it fails, for random updates of plain messages, shorthands and removals', () => {
    // An update is one item or a list of them; a failed update leaves both lists as they were.
    const update = fc.oneof(item.map((i) => ({ single: true as const, items: [i] })), fc.array(item, { maxLength: 4 }).map((items) => ({ single: false as const, items })))
    let compared = 0
    let failedBoth = 0
    fc.assert(
      fc.property(fc.array(update, { minLength: 1, maxLength: 12 }), (updates) => {
        let mine: Message[] = []
        let lg: ReturnType<typeof langgraphReducer> = []
        for (const u of updates) {
          // Plain strings and pairs cannot be a single update on both sides the same way ([role, content] is a list).
          if (u.single && (u.items[0]?.kind === 'pair')) continue
          const write = () => (u.single ? messageLike(u.items[0] as Item) : u.items.map(messageLike))
          let ourError: unknown
          let theirError: unknown
          let nextMine: Message[] | undefined
          let nextLg: typeof lg | undefined
          try {
            nextMine = messagesStateReducer(frozen([...mine]), frozen(write()) as Messages)
          } catch (err) {
            ourError = err
          }
          try {
            nextLg = langgraphReducer(lg, write() as never)
          } catch (err) {
            theirError = err
          }
          expect({ failed: ourError !== undefined, update: u }).toEqual({ failed: theirError !== undefined, update: u })
          if (nextMine && nextLg) {
            expect(ours(nextMine)).toEqual(theirs(nextLg))
            mine = nextMine
            lg = nextLg
            compared++
          } else failedBoth++
        }
      }),
      { numRuns: 400 },
    )
    // Both outcomes were exercised, so neither half of the comparison is vacuous.
    expect(compared).toBeGreaterThan(500)
    expect(failedBoth).toBeGreaterThan(20)
  })

  it('agrees on the cases LangGraph documents: replace, remove then re-add in one update, remove-all in the middle', () => {
    const cases: [Messages[], string][] = [
      [[[{ type: 'human', content: 'a', id: 'a' }], [{ type: 'ai', content: 'b', id: 'b' }, { type: 'human', content: 'a2', id: 'a' }]], 'replace'],
      [[[{ type: 'human', content: 'a', id: 'a' }], [{ type: 'remove', id: 'a' }, { type: 'ai', content: 'back', id: 'a' }]], 're-add'],
      [[[{ type: 'human', content: 'a', id: 'a' }], [{ type: 'ai', content: 'gone', id: 'b' }, { type: 'remove', id: REMOVE_ALL_MESSAGES }, { type: 'human', content: 'kept', id: 'c' }]], 'remove-all'],
      [[[{ type: 'human', content: 'a', id: 'a' }, { type: 'ai', content: 'x', id: 'a' }]], 'duplicate id in one update'],
      [[[{ type: 'human', content: 'a', id: 'a' }], [{ type: 'ai', content: 'b', id: 'b' }, { type: 'remove', id: 'b' }]], 'remove a message added in the same update'],
    ]
    for (const [updates, what] of cases) {
      let mine: Message[] = []
      let lg: ReturnType<typeof langgraphReducer> = []
      for (const u of updates) {
        mine = messagesStateReducer(mine, structuredClone(u))
        lg = langgraphReducer(lg, structuredClone(u) as never)
      }
      expect({ what, list: ours(mine) }).toEqual({ what, list: theirs(lg) })
    }
  })
})

// ---- In a graph -------------------------------------------------------------------------------------------------

describe('MessagesValue in a graph', () => {
  const chat = (checkpointer = createMemoryAdapter()) => ({
    checkpointer,
    graph: new StateGraph({ messages: MessagesValue })
      .addNode('agent', (s) => ({ messages: { role: 'assistant', content: `reply ${s.messages.length} ${'x'.repeat(1000)}` } }))
      .addEdge(START, 'agent')
      .addEdge('agent', END)
      .compile({ checkpointer }),
  })

  it('stores a 200-turn chat in about the bytes of its messages', async () => {
    const { graph, checkpointer } = chat()
    let state: { messages: Message[] } = { messages: [] }
    for (let turn = 0; turn < 200; turn++) state = await graph.invoke({ messages: [{ role: 'user', content: `question ${turn} ${'q'.repeat(100)}` }] }, { threadId: 'chat' })
    expect(state.messages).toHaveLength(400)
    expect(state.messages.every((m) => UUID_V4.test(m.id as string))).toBe(true)
    const messageBytes = JSON.stringify(state.messages).length
    const stored = checkpointer.bytes('chat')
    // Storing the whole list at every checkpoint would take ~200 times as much. Packs of this repetitive text are
    // stored compressed, so the history takes less than the messages themselves.
    expect(stored).toBeGreaterThan(messageBytes * 0.05)
    expect(stored).toBeLessThan(messageBytes * 1.5)
    // And it reads back as it was, ids included.
    const fresh = chat(checkpointer).graph
    expect((await fresh.getState({ threadId: 'chat' })).values).toEqual(state)
  })

  it('takes LangGraph-style input, and a node can replace or remove messages by id', async () => {
    const graph = new StateGraph({ messages: MessagesValue })
      .addNode('edit', (s) => ({ messages: [{ ...(s.messages[0] as Message), content: 'edited' }, { type: 'remove', id: (s.messages[1] as Message).id as string }] }))
      .addEdge(START, 'edit')
      .addEdge('edit', END)
      .compile({ checkpointer: createMemoryAdapter() })
    const out = await graph.invoke({ messages: [['user', 'first'], 'second'] }, { threadId: 't' })
    expect(out.messages).toEqual([{ role: 'user', content: 'edited', id: expect.stringMatching(UUID_V4) }])
  })

  it('reports a removal of an unknown id as INVALID_UPDATE naming the channel and the node', async () => {
    const graph = new StateGraph({ messages: MessagesValue })
      .addNode('agent', () => ({ messages: { type: 'remove', id: 'ghost' } }))
      .addEdge(START, 'agent')
      .addEdge('agent', END)
      .compile()
    const err = await graph.invoke({ messages: 'hi' }).catch((e: unknown) => e)
    expect(isEdgegraphError(err)).toBe(true)
    expect((err as Error).message).toMatch(/channel "messages".*node "agent".*cannot remove message "ghost"/)
  })
})
