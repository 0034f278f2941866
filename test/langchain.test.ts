/**
 * edgegraph/langchain: LangChain messages stored and read back as equal instances, a tool-calling chat through a
 * graph, and its messages reducer against LangGraph.js's on LangChain messages.
 */
import * as messages from '@langchain/core/messages'
import { AIMessage, AIMessageChunk, BaseMessage, ChatMessage, FunctionMessage, HumanMessage, HumanMessageChunk, RemoveMessage, SystemMessage, SystemMessageChunk, ToolMessage, ToolMessageChunk, type BaseMessageLike } from '@langchain/core/messages'
import { messagesStateReducer as langgraphReducer } from '@langchain/langgraph'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createMemoryAdapter } from '../adapters/memory.js'
import { decodeValue, encodeValue } from '../src/checkpoint/serde.js'
import { END, REMOVE_ALL_MESSAGES, START, StateGraph, messagesStateReducer } from '../src/index.js'
import { registerLangChainMessages } from '../src/langchain.js'
import { collect } from './helpers.js'

const lc = registerLangChainMessages(messages)
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const roundTrip = <T>(v: T): T => decodeValue(JSON.parse(JSON.stringify(encodeValue(v, { channel: 'messages', path: [] })))) as T

/** Everything that makes two messages the same: class, type, fields (LangChain's bookkeeping aside) and toDict(). */
function expectSameMessage(back: unknown, m: BaseMessage) {
  expect(back).toBeInstanceOf(BaseMessage)
  const b = back as BaseMessage
  expect(Object.getPrototypeOf(b)).toBe(Object.getPrototypeOf(m))
  expect(b.getType()).toBe(m.getType())
  const { lc_kwargs: _a, ...fields } = b as unknown as Record<string, unknown>
  const { lc_kwargs: _b, ...expected } = m as unknown as Record<string, unknown>
  expect(fields).toStrictEqual(expected)
  expect(b.toDict()).toStrictEqual(m.toDict())
  expect(b).toEqual(m)
}

// LangChain 1.4's field types reject some valid fields under this repo's strict options (usage_metadata comes out
// as `undefined`, optional fields refuse an explicit undefined), so messages with such fields are built through these.
const ai = (fields: Record<string, unknown>) => new AIMessage(fields as never)
const tool = (fields: Record<string, unknown>) => new ToolMessage(fields as never)

// ---- Random LangChain messages ----------------------------------------------------------------------------------

const json = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown)
const dict = fc.dictionary(fc.string({ maxLength: 6 }), json, { maxKeys: 3, noNullPrototype: true })
const content = fc.oneof(fc.string(), fc.constant([{ type: 'text', text: 'see' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }]))
// Optional fields are left out rather than set to undefined, as LangChain's toDict() tells the two apart.
const base = fc.record({ content, id: fc.uuid(), name: fc.string({ maxLength: 5 }), additional_kwargs: dict, response_metadata: dict }, { requiredKeys: ['content'], noNullPrototype: true })
const toolCall = fc.record({ name: fc.string({ minLength: 1, maxLength: 6 }), args: dict, id: fc.string({ minLength: 1, maxLength: 6 }), type: fc.constant('tool_call' as const) }, { noNullPrototype: true })
const usage = fc.record({ input_tokens: fc.nat(), output_tokens: fc.nat(), total_tokens: fc.nat(), input_token_details: fc.constant({ cache_read: 3 }) }, { requiredKeys: ['input_tokens', 'output_tokens', 'total_tokens'], noNullPrototype: true })
const anyMessage: fc.Arbitrary<BaseMessage> = fc.oneof(
  base.map((f) => new HumanMessage(f as never)),
  base.map((f) => new SystemMessage(f as never)),
  fc.tuple(base, fc.array(toolCall, { maxLength: 2 }), fc.option(usage, { nil: undefined })).map(([f, tool_calls, usage_metadata]) => ai({ ...f, tool_calls, ...(usage_metadata && { usage_metadata }) })),
  fc.tuple(base, fc.string({ minLength: 1 }), fc.constantFrom('success' as const, 'error' as const, undefined), fc.option(json, { nil: undefined })).map(([f, tool_call_id, status, artifact]) => tool({ ...f, tool_call_id, ...(status && { status }), ...(artifact !== undefined && { artifact }) })),
  base.map((f) => new ChatMessage({ ...f, role: 'critic' } as never)),
  base.map((f) => new FunctionMessage({ ...f, name: f.name ?? 'fn' } as never)),
  fc.uuid().map((id) => new RemoveMessage({ id })),
  fc.tuple(base, fc.array(fc.record({ name: fc.string({ maxLength: 4 }), args: fc.constant('{"a":'), id: fc.string({ maxLength: 4 }), index: fc.nat(3) }, { noNullPrototype: true }), { maxLength: 2 })).map(([f, tool_call_chunks]) => new AIMessageChunk({ ...f, tool_call_chunks } as never)),
  base.map((f) => new HumanMessageChunk(f as never)),
  base.map((f) => new SystemMessageChunk(f as never)),
  fc.tuple(base, fc.string({ minLength: 1 })).map(([f, tool_call_id]) => new ToolMessageChunk({ ...f, tool_call_id } as never)),
)

describe('LangChain messages in state', () => {
  it('read back as equal instances of their class: every message class, random fields', () => {
    fc.assert(
      fc.property(anyMessage, (m) => expectSameMessage(roundTrip(m), m)),
      { numRuns: 400 },
    )
  })

  it('are stored as their fields under a class tag, LangChain bookkeeping and constructor defaults left out', () => {
    const stored = encodeValue(new HumanMessage({ content: 'hi', id: 'h1' }), { channel: 'messages', path: [] })
    expect(stored).toEqual({ $t: 'c:lc.HumanMessage', v: { id: 'h1', content: 'hi' } })
  })

  it('run through a tool-calling graph, are stored, and read back on a fresh graph as equal instances', async () => {
    const store = createMemoryAdapter()
    const build = () =>
      new StateGraph({ messages: lc.MessagesValue })
        .addNode('agent', (s) => {
          const last = s.messages.at(-1)
          if (last instanceof ToolMessage) return { messages: [ai({ content: `It is ${last.content} in Paris.`, usage_metadata: { input_tokens: 30, output_tokens: 8, total_tokens: 38 } })] }
          return {
            messages: [
              ai({
                content: '',
                tool_calls: [{ name: 'weather', args: { city: 'Paris' }, id: 'call_1', type: 'tool_call' }],
                usage_metadata: { input_tokens: 12, output_tokens: 5, total_tokens: 17 },
                response_metadata: { model_name: 'test-model', finish_reason: 'tool_calls' },
                additional_kwargs: { refusal: null },
              }),
            ],
          }
        })
        .addNode('tools', (s) => {
          const call = (s.messages.at(-1) as AIMessage).tool_calls?.[0]
          return { messages: [tool({ content: '18°C', tool_call_id: call?.id, name: call?.name, status: 'success', artifact: { source: 'station 7', at: new Date(0) } })] }
        })
        .addEdge(START, 'agent')
        .addConditionalEdges('agent', (s) => ((s.messages.at(-1) as AIMessage).tool_calls?.length ? 'tools' : END))
        .addEdge('tools', 'agent')
        .compile({ checkpointer: store })

    const out = await build().invoke({ messages: [new HumanMessage('Weather in Paris?')] }, { threadId: 'chat' })
    expect(out.messages.map((m) => m.constructor.name)).toEqual(['HumanMessage', 'AIMessage', 'ToolMessage', 'AIMessage'])
    expect(out.messages.every((m) => UUID_V4.test(m.id as string))).toBe(true)

    const fresh = build()
    const back = (await fresh.getState({ threadId: 'chat' })).values.messages
    expect(back).toHaveLength(4)
    back.forEach((m, i) => expectSameMessage(m, out.messages[i] as BaseMessage))
    const toolMessage = back[2] as ToolMessage
    expect([toolMessage.tool_call_id, toolMessage.status, toolMessage.artifact]).toEqual(['call_1', 'success', { source: 'station 7', at: new Date(0) }])
    expect((back[1] as AIMessage).tool_calls).toEqual([{ name: 'weather', args: { city: 'Paris' }, id: 'call_1', type: 'tool_call' }])
    expect((back[3] as AIMessage).usage_metadata).toEqual({ input_tokens: 30, output_tokens: 8, total_tokens: 38 })
    // Every checkpoint of the history reads back, each step adding its one message.
    const history = await collect(fresh.getStateHistory({ threadId: 'chat' }))
    expect(history.map((s) => s.values.messages.length)).toEqual([4, 3, 2, 1])
    // And the thread goes on from the fresh graph.
    const more = await fresh.invoke({ messages: [new HumanMessage('And tomorrow?')] }, { threadId: 'chat' })
    expect(more.messages.map((m) => m.getType())).toEqual(['human', 'ai', 'tool', 'ai', 'human', 'ai', 'tool', 'ai'])
  })

  it('a 100-turn chat of LangChain messages stores about the bytes of its messages (kept instances are not stored again)', async () => {
    const store = createMemoryAdapter()
    const graph = new StateGraph({ messages: lc.MessagesValue })
      .addNode('agent', (s) => ({ messages: [ai({ content: `answer ${s.messages.length} ${'x'.repeat(1000)}`, usage_metadata: { input_tokens: 1, output_tokens: 1, total_tokens: 2 } })] }))
      .addEdge(START, 'agent')
      .addEdge('agent', END)
      .compile({ checkpointer: store })
    let state = { messages: [] as BaseMessage[] }
    for (let turn = 0; turn < 100; turn++) state = await graph.invoke({ messages: [new HumanMessage(`question ${turn} ${'q'.repeat(100)}`)] }, { threadId: 'long' })
    const messageBytes = JSON.stringify(encodeValue(state.messages, { channel: 'messages', path: [] })).length
    // Packs of this repetitive text are stored compressed: less than the messages themselves, never ~100 copies of them.
    expect(store.bytes('long')).toBeGreaterThan(messageBytes * 0.05)
    expect(store.bytes('long')).toBeLessThan(messageBytes * 1.5)
  })
})

// ---- The reducer on LangChain messages, against LangGraph.js's ---------------------------------------------------

/** An update item, built fresh for each side: LangGraph sets ids on the messages it is given. */
type Make = () => BaseMessageLike
const POOL = ['a', 'b', 'c']
const make: fc.Arbitrary<[string, Make]> = fc.oneof(
  fc.tuple(fc.string({ maxLength: 3 }), fc.option(fc.constantFrom(...POOL), { nil: undefined })).map(([c, id]): [string, Make] => [`human ${id}`, () => new HumanMessage(id === undefined ? { content: c } : { content: c, id })]),
  fc.tuple(fc.string({ maxLength: 3 }), fc.option(fc.constantFrom(...POOL), { nil: undefined })).map(([c, id]): [string, Make] => [`ai ${id}`, () => new AIMessage({ content: c, ...(id && { id }), tool_calls: [{ name: 't', args: { c }, id: 'x', type: 'tool_call' }] })]),
  fc.tuple(fc.string({ maxLength: 3 }), fc.option(fc.constantFrom(...POOL), { nil: undefined })).map(([c, id]): [string, Make] => [`chunk ${id}`, () => new AIMessageChunk({ content: c, ...(id && { id }), tool_call_chunks: [{ name: 't', args: '{}', id: 'y', index: 0 }] })]),
  fc.constantFrom(...POOL, REMOVE_ALL_MESSAGES).map((id): [string, Make] => [`remove ${id}`, () => new RemoveMessage({ id })]),
  fc.string({ maxLength: 3 }).map((c): [string, Make] => ['string', () => c]),
  fc.tuple(fc.constantFrom('user', 'ai', 'system'), fc.string({ maxLength: 3 })).map(([r, c]): [string, Make] => ['pair', () => [r, c]]),
  fc.tuple(fc.constantFrom('user', 'assistant'), fc.option(fc.constantFrom(...POOL), { nil: undefined })).map(([role, id]): [string, Make] => [`role ${id}`, () => ({ role, content: 'plain', ...(id && { id }) })]),
)

/** What both sides must agree on, generated ids as a placeholder. */
const summary = (list: BaseMessage[]) =>
  list.map((m) => [m.constructor.name, m.getType(), m.content, typeof m.id === 'string' && UUID_V4.test(m.id) ? '<generated>' : m.id, (m as AIMessage).tool_calls, (m as ToolMessage).tool_call_id])

describe('registerLangChainMessages(...).messagesStateReducer against LangGraph.js', () => {
  it('gives the same messages (classes, ids, fields), or fails where it fails, for random updates', () => {
    let compared = 0
    fc.assert(
      fc.property(fc.array(fc.array(make, { maxLength: 4 }), { minLength: 1, maxLength: 10 }), (updates) => {
        let mine: BaseMessage[] = []
        let theirs: BaseMessage[] = []
        for (const u of updates) {
          const ours = u.map(([, f]) => f())
          // Our side must not change what it is given: frozen messages would throw.
          for (const m of [...ours, ...mine]) if (m instanceof BaseMessage) Object.freeze(m)
          let a: BaseMessage[] | undefined
          let b: BaseMessage[] | undefined
          try {
            a = lc.messagesStateReducer(Object.freeze([...mine]) as BaseMessage[], ours)
          } catch {}
          try {
            b = langgraphReducer(theirs, u.map(([, f]) => f()))
          } catch {}
          expect({ u: u.map(([w]) => w), ok: a !== undefined }).toEqual({ u: u.map(([w]) => w), ok: b !== undefined })
          if (a && b) {
            expect(summary(a)).toEqual(summary(b))
            mine = a
            theirs = b
            compared++
          }
        }
      }),
      { numRuns: 300 },
    )
    expect(compared).toBeGreaterThan(500)
  })

  it('keeps the messages it is given when they have ids, and copies them with an id through their constructor when not', () => {
    const kept = new HumanMessage({ content: 'hi', id: 'h' })
    const bare = new AIMessage({ content: 'yo', tool_calls: [{ name: 't', args: {}, id: 'c', type: 'tool_call' }] })
    const [a, b] = lc.messagesStateReducer([kept], [bare])
    expect(a).toBe(kept)
    expect(b).toBeInstanceOf(AIMessage)
    expect(b).not.toBe(bare)
    expect(bare.id).toBeUndefined()
    expect(b?.id).toMatch(UUID_V4)
    // The id is in the constructor's kwargs too, so LangChain's own serialization keeps it.
    expect(b?.toDict().data.id).toBe(b?.id)
    expect((b as AIMessage).tool_calls).toEqual(bare.tool_calls)
  })

  it('turns chunks into their full class and message-likes into LangChain messages, as LangGraph does', () => {
    const out = lc.messagesStateReducer([], [new AIMessageChunk({ content: 'part', id: 'k' }), 'hi', ['assistant', 'ok'], { role: 'system', content: 'sys' }])
    expect(out.map((m) => m.constructor.name)).toEqual(['AIMessage', 'HumanMessage', 'AIMessage', 'SystemMessage'])
  })

  it("edgegraph's plain messagesStateReducer also works on LangChain messages: ids, replace, RemoveMessage", () => {
    const first = new HumanMessage('hi')
    const [withId] = messagesStateReducer<BaseMessage>([], first)
    expect(withId).toBeInstanceOf(HumanMessage)
    expect(withId?.getType()).toBe('human')
    expect(withId?.id).toMatch(UUID_V4)
    expect(first.id).toBeUndefined()
    const answer = new AIMessage({ content: 'draft', id: 'a1' })
    let list = messagesStateReducer<BaseMessage>([withId as BaseMessage], answer)
    list = messagesStateReducer(list, new AIMessage({ content: 'final', id: 'a1' }))
    expect(list.map((m) => m.content)).toEqual(['hi', 'final'])
    expect(list[0]).toBe(withId)
    list = messagesStateReducer(list, new RemoveMessage({ id: withId?.id as string }))
    expect(list.map((m) => m.id)).toEqual(['a1'])
    // The copy made for the id is a LangChain message in all but its constructor kwargs (toDict() misses the id:
    // registerLangChainMessages' reducer copies through the constructor instead); stored, it reads back whole.
    const back = roundTrip(withId) as BaseMessage
    expect(back).toBeInstanceOf(HumanMessage)
    expect([back.id, back.content, back.toDict().data.id]).toEqual([withId?.id, 'hi', withId?.id])
  })

  it('types: the channel holds BaseMessage and takes BaseMessageLike', () => {
    const graph = new StateGraph({ messages: lc.MessagesValue }).addNode('a', (s) => {
      const list: BaseMessage[] = s.messages
      return { messages: list.length ? [new AIMessage('x'), ['user', 'y']] : 'z' }
    })
    // Checked by tsc only.
    const misuse = () => {
      // @ts-expect-error numbers are not messages
      new StateGraph({ messages: lc.MessagesValue }).addNode('b', () => ({ messages: [42] }))
    }
    expect([graph, misuse].length).toBe(2)
  })
})
