/**
 * @module `EdgegraphSaver` on IndexedDB in real Chromium: LangGraph.js's checkpointer validation suite, and a
 * LangGraph.js chat (its `web` entry) whose thread a fresh saver over the same database reads back.
 */
import { AIMessage, HumanMessage, type BaseMessage } from '@langchain/core/messages'
import { END, MemorySaver, MessagesAnnotation, START, StateGraph, type BaseCheckpointSaver } from '@langchain/langgraph/web'
import { describe, expect, it } from 'vitest'
import { createIndexedDBAdapter } from '../adapters/indexeddb.js'
import { EdgegraphSaver } from '../src/langgraph.js'
import { collect } from './helpers.js'
import { validateEdgegraphSaver } from './langgraph-validation.js'

const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
let n = 0
validateEdgegraphSaver('indexeddb (Chromium)', () => createIndexedDBAdapter({ name: `langgraph-${run}-${n++}` }), { destroy: (adapter) => adapter.close() })

function chat(checkpointer: BaseCheckpointSaver) {
  return new StateGraph(MessagesAnnotation)
    .addNode('agent', (s) => ({ messages: [new AIMessage({ id: `a-${s.messages.length}`, content: `answer ${s.messages.length}` })] }))
    .addEdge(START, 'agent')
    .addEdge('agent', END)
    .compile({ checkpointer })
}

describe('a LangGraph.js chat on IndexedDB', () => {
  it('keeps its thread across a reload: a fresh saver on the same database reads the same state and history', async () => {
    const name = `langgraph-chat-${run}`
    const config = { configurable: { thread_id: 'chat-1' } }
    const memory = chat(new MemorySaver())
    const stored = chat(new EdgegraphSaver(createIndexedDBAdapter({ name })))
    for (let turn = 0; turn < 30; turn++) {
      const input = { messages: [new HumanMessage({ id: `h-${turn}`, content: `question ${turn}` })] }
      await memory.invoke(input, config)
      await stored.invoke(input, config)
    }
    const reloaded = chat(new EdgegraphSaver(createIndexedDBAdapter({ name })))
    const state = await reloaded.getState(config)
    expect(state.values).toEqual((await memory.getState(config)).values)
    expect(state.values.messages.map((m: BaseMessage) => m.id)).toHaveLength(60)
    const history = await collect(reloaded.getStateHistory(config))
    const expected = await collect(memory.getStateHistory(config))
    expect(history.map((s) => [s.values, s.next, s.metadata?.step, s.metadata?.source])).toEqual(expected.map((s) => [s.values, s.next, s.metadata?.step, s.metadata?.source]))
    await reloaded.invoke({ messages: [new HumanMessage({ id: 'h-30', content: 'after the reload' })] }, config)
    expect((await reloaded.getState(config)).values.messages).toHaveLength(62)
  })
})
