/**
 * @module Differential scenarios: the graphs people port from LangGraph.js (ReAct agent, map-reduce, human in the
 * loop, time travel, subgraphs, retries, streaming), each run on both engines through the harness and compared.
 * Scenarios edgegraph cannot run yet are written against LangGraph's API and skipped by title in pending.ts.
 */
import { describe, expect } from 'vitest'
import { buildEdgegraph, buildLangGraph, expectSame, runBoth, type GraphDesc, type State } from './harness.js'
import { itMatches } from './pending.js'

const START = '__start__'
const END = '__end__'

interface Message {
  role: 'user' | 'ai' | 'tool'
  content: string
  tool_calls?: { id: string; name: string; args: { a: number; b: number } }[]
  tool_call_id?: string
}

/** A ReAct agent with a scripted model: it calls `add` twice per user turn, then answers with the sums. */
function reactAgent(options: Partial<GraphDesc> = {}): GraphDesc {
  const sinceUser = (messages: Message[]) => messages.slice(messages.map((m) => m.role).lastIndexOf('user') + 1)
  return {
    channels: { messages: { kind: 'append' } },
    nodes: {
      model: (s) => {
        const results = sinceUser(s.messages).filter((m) => m.role === 'tool')
        if (results.length < 2) {
          const n = results.length
          return { messages: [{ role: 'ai', content: '', tool_calls: [{ id: `call-${s.messages.length}`, name: 'add', args: { a: n, b: 10 } }] }] }
        }
        return { messages: [{ role: 'ai', content: `sums: ${results.map((m) => m.content).join(', ')}` }] }
      },
      tools: (s) => {
        const last = s.messages.at(-1) as Message
        return { messages: (last.tool_calls ?? []).map((c) => ({ role: 'tool', tool_call_id: c.id, content: String(c.args.a + c.args.b) })) }
      },
    },
    edges: [
      [START, 'model'],
      ['tools', 'model'],
    ],
    conditional: [{ from: 'model', path: (s, ops) => ((s.messages.at(-1) as Message).tool_calls?.length ? 'tools' : ops.END), pathMap: ['tools', END] }],
    ...options,
  }
}

describe('ReAct agent', () => {
  itMatches('ReAct agent: the model calls tools until it can answer', async () => {
    const r = await runBoth(reactAgent(), [{ invoke: { messages: [{ role: 'user', content: 'add things' }] } }])
    expectSame(r)
    expect((r.langgraph.state.values.messages as Message[]).at(-1)?.content).toBe('sums: 10, 11')
  })

  itMatches('ReAct agent: a second user turn on the same thread', async () => {
    const r = await runBoth(reactAgent(), [{ invoke: { messages: [{ role: 'user', content: 'one' }] } }, { invoke: { messages: [{ role: 'user', content: 'two' }] } }])
    expectSame(r)
    expect(r.langgraph.state.values.messages).toHaveLength(12)
  })

  itMatches('ReAct agent: interruptBefore tools, each call approved with invoke(null)', async () => {
    const r = await runBoth(reactAgent({ interruptBefore: ['tools'] }), [
      { invoke: { messages: [{ role: 'user', content: 'add things' }] } },
      { getState: true },
      { invoke: null },
      { invoke: null },
    ])
    expectSame(r)
    expect(r.langgraph.state.next).toEqual([])
  })

  itMatches('ReAct agent: interruptBefore tools, the tool call rewritten with updateState as the model', async () => {
    const r = await runBoth(reactAgent({ interruptBefore: ['tools'] }), [
      { invoke: { messages: [{ role: 'user', content: 'add things' }] } },
      { updateState: { messages: [{ role: 'ai', content: '', tool_calls: [{ id: 'edited', name: 'add', args: { a: 100, b: 0 } }] }] }, asNode: 'model' },
      { invoke: null },
      { invoke: null },
    ])
    expectSame(r)
  })
})

/**
 * The same agent on a messages channel (edgegraph's MessagesValue, LangGraph's messagesStateReducer, which turns the
 * plain objects into LangChain messages): every message has an id, as a chat UI gives them, so an update with a
 * known id replaces that message.
 */
function reactMessagesAgent(options: Partial<GraphDesc> = {}): GraphDesc {
  type Msg = { id: string; type: string; content: string; tool_calls?: { id: string; name: string; args: { a: number; b: number }; type: 'tool_call' }[] }
  const sinceUser = (messages: Msg[]) => messages.slice(messages.map((m) => m.type).lastIndexOf('human') + 1)
  return {
    channels: { messages: { kind: 'messages' } },
    nodes: {
      model: (s) => {
        const messages = s.messages as Msg[]
        const results = sinceUser(messages).filter((m) => m.type === 'tool')
        const id = `ai-${messages.length}`
        if (results.length < 2) return { messages: [{ id, type: 'ai', content: '', tool_calls: [{ id: `call-${messages.length}`, name: 'add', args: { a: results.length, b: 10 }, type: 'tool_call' }] }] }
        return { messages: [{ id, type: 'ai', content: `sums: ${results.map((m) => m.content).join(', ')}` }] }
      },
      tools: (s) => {
        const last = (s.messages as Msg[]).at(-1) as Msg
        return { messages: (last.tool_calls ?? []).map((c) => ({ id: `tool-${c.id}`, type: 'tool', tool_call_id: c.id, content: String(c.args.a + c.args.b) })) }
      },
    },
    edges: [
      [START, 'model'],
      ['tools', 'model'],
    ],
    conditional: [{ from: 'model', path: (s, ops) => ((s.messages as Msg[]).at(-1)?.tool_calls?.length ? 'tools' : ops.END), pathMap: ['tools', END] }],
    ...options,
  }
}

describe('ReAct agent on a messages channel', () => {
  itMatches('ReAct agent with messages: tool calls and answers, two user turns', async () => {
    const r = await runBoth(reactMessagesAgent(), [
      { invoke: { messages: [{ id: 'u1', type: 'human', content: 'add things' }] } },
      { invoke: { messages: [{ id: 'u2', type: 'human', content: 'again' }] } },
    ])
    expectSame(r)
    expect(r.langgraph.state.values.messages).toHaveLength(12)
    expect((r.langgraph.state.values.messages as State[]).at(-1)).toEqual({ id: 'ai-11', type: 'ai', content: 'sums: 10, 11' })
  })

  itMatches('ReAct agent with messages: updateState replaces the tool call by id before the tools run', async () => {
    const r = await runBoth(reactMessagesAgent({ interruptBefore: ['tools'] }), [
      { invoke: { messages: [{ id: 'u1', type: 'human', content: 'add things' }] } },
      { updateState: { messages: [{ id: 'ai-1', type: 'ai', content: '', tool_calls: [{ id: 'edited', name: 'add', args: { a: 100, b: 0 }, type: 'tool_call' }] }] }, asNode: 'model' },
      { getState: true },
      { invoke: null },
      { invoke: null },
    ])
    expectSame(r)
    const edited = r.langgraph.steps[2]?.state?.values.messages as State[]
    expect(edited.map((m) => m.id)).toEqual(['u1', 'ai-1'])
    expect(edited[1]?.tool_calls).toEqual([{ id: 'edited', name: 'add', args: { a: 100, b: 0 }, type: 'tool_call' }])
  })
})

describe('map-reduce', () => {
  const mapReduce = (join: boolean): GraphDesc => ({
    channels: { topics: { kind: 'last' }, results: { kind: 'append' }, side: { kind: 'append' }, summary: { kind: 'last' } },
    nodes: {
      plan: () => ({ topics: ['x', 'y', 'z'] }),
      work: (s) => ({ results: [`r:${s.topic}`] }),
      side1: () => ({ side: ['s1'] }),
      side2: () => ({ side: ['s2'] }),
      reduce: (s) => ({ summary: `${[...s.results].sort().join('+')} | ${s.side.join('+')}` }),
    },
    edges: [[START, 'plan'], ['plan', 'side1'], ['side1', 'side2'], ['reduce', END], ...(join ? [[['work', 'side2'], 'reduce'] as [string[], string]] : [['work', 'reduce'] as [string, string], ['side2', 'reduce'] as [string, string]])],
    conditional: [{ from: 'plan', path: (s, ops) => (s.topics as string[]).map((topic) => ops.send('work', { topic })) }],
  })

  itMatches('map-reduce: Send fan-out, reduced without a join (reduce runs per arriving branch)', async () => {
    const r = await runBoth(mapReduce(false), [{ invoke: { results: [] } }])
    expectSame(r)
  })

  itMatches('map-reduce: Send fan-out and a longer side branch joined by a waiting edge', async () => {
    const r = await runBoth(mapReduce(true), [{ invoke: { results: [] } }])
    expectSame(r)
    expect(r.langgraph.state.values.summary).toBe('r:x+r:y+r:z | s1+s2')
  })
})

describe('human in the loop', () => {
  const review: GraphDesc = {
    channels: { draft: { kind: 'last' }, verdict: { kind: 'last' }, log: { kind: 'append' } },
    nodes: {
      write: () => ({ draft: 'v1', log: ['write'] }),
      review: (s, ops) => {
        const verdict = ops.interrupt<string>({ question: 'publish?', draft: s.draft })
        return { verdict, log: [`review:${s.draft}:${verdict}`] }
      },
      publish: (s) => ({ log: [`publish:${s.draft}`] }),
    },
    edges: [
      [START, 'write'],
      ['write', 'review'],
      ['review', 'publish'],
      ['publish', END],
    ],
  }

  itMatches('HITL: interrupt() asks, Command({ resume }) answers', async () => {
    const r = await runBoth(review, [{ invoke: { log: [] } }, { getState: true }, { resume: 'yes' }])
    expectSame(r)
    expect(r.langgraph.steps[1]?.state?.interrupts).toEqual([{ question: 'publish?', draft: 'v1' }])
  })

  itMatches('HITL: interrupt() asks, updateState edits the draft, Command({ resume }) answers', async () => {
    const r = await runBoth(review, [{ invoke: { log: [] } }, { updateState: { draft: 'v2' } }, { getState: true }, { resume: 'yes' }])
    expectSame(r)
    expect(r.langgraph.state.values.log).toEqual(['write', 'review:v2:yes', 'publish:v2'])
  })

  itMatches('HITL: interrupt() asks, updateState edits the draft, invoke(null) asks again, Command({ resume }) answers', async () => {
    // edgegraph's way to answer after an edit (see docs/langgraph.md): the node asks again about the edited draft.
    const r = await runBoth(review, [{ invoke: { log: [] } }, { updateState: { draft: 'v2' } }, { invoke: null }, { resume: 'yes' }])
    expectSame(r)
    expect(r.langgraph.steps[2]?.interrupts).toEqual([{ question: 'publish?', draft: 'v2' }])
    expect(r.langgraph.state.values.log).toEqual(['write', 'review:v2:yes', 'publish:v2'])
  })

  itMatches('HITL: interrupt() asked again with invoke(null) instead of an answer', async () => {
    const r = await runBoth(review, [{ invoke: { log: [] } }, { invoke: null }, { resume: 'no' }])
    expectSame(r)
  })

  const gate: GraphDesc = {
    channels: { risky: { kind: 'last' }, log: { kind: 'append' } },
    nodes: { plan: (s) => ({ risky: s.risky ?? true, log: ['plan'] }), act: () => ({ log: ['act'] }), skip: () => ({ log: ['skip'] }) },
    edges: [
      [START, 'plan'],
      ['act', END],
      ['skip', END],
    ],
    conditional: [{ from: 'plan', path: (s) => (s.risky ? 'act' : 'skip') }],
    interruptBefore: ['act'],
  }

  itMatches('HITL: interruptBefore, updateState without asNode routes again from the node that ran', async () => {
    const r = await runBoth(gate, [{ invoke: { log: [] } }, { updateState: { risky: false } }, { getState: true }, { invoke: null }])
    expectSame(r)
    expect(r.langgraph.state.values.log).toEqual(['plan', 'skip'])
  })

  itMatches('HITL: interruptBefore, updateState as the node that ran, then continue', async () => {
    const r = await runBoth(gate, [{ invoke: { log: [] } }, { updateState: { risky: false }, asNode: 'plan' }, { getState: true }, { invoke: null }])
    expectSame(r)
  })

  /** a and b run in parallel from START; b asks, a finishes and leads to x; b leads to y. */
  const parallel: GraphDesc = {
    channels: { log: { kind: 'append' } },
    nodes: { a: () => ({ log: ['a'] }), b: (_s, ops) => ({ log: [`b=${ops.interrupt('q')}`] }), x: () => ({ log: ['x'] }), y: () => ({ log: ['y'] }) },
    edges: [[START, 'a'], [START, 'b'], ['a', 'x'], ['b', 'y']],
  }

  for (const asNode of [undefined, 'b', 'x']) {
    itMatches(`HITL: updateState ${asNode ? `as ${asNode}` : 'without asNode'} while a parallel branch waits keeps the finished branch's writes`, async () => {
      const r = await runBoth(parallel, [{ invoke: { log: ['in'] } }, { updateState: { log: ['u'] }, ...(asNode ? { asNode } : {}) }, { getState: true }, { invoke: null }])
      expectSame(r)
      // a's write lands before the update; without asNode the update goes as a (the task that finished).
      expect((r.langgraph.steps[2]?.state?.values as State).log).toEqual(['in', 'a', 'u'])
    })
  }

  /** a and b run from START and wait for each other into c, which asks; c leads to x. */
  const joined = (defer: boolean): GraphDesc => ({
    channels: { log: { kind: 'append' } },
    nodes: { a: () => ({ log: ['a'] }), b: () => ({ log: ['b'] }), x: () => ({ log: ['x'] }), c: { fn: (_s, ops) => ({ log: [`c=${ops.interrupt('q')}`] }), defer } },
    edges: [[START, 'a'], [START, 'b'], [['a', 'b'], 'c'], ['c', 'x']],
  })

  for (const defer of [false, true]) {
    itMatches(`HITL: updateState while the target of a waiting edge${defer ? ' (deferred)' : ''} asks keeps it due, as another node or as itself`, async () => {
      for (const asNode of ['a', 'x', 'c']) {
        const r = await runBoth(joined(defer), [{ invoke: { log: ['in'] } }, { updateState: { log: ['u'] }, asNode }, { getState: true }, { invoke: null }, { resume: 'yes' }])
        expectSame(r)
        expect(r.langgraph.steps[2]?.state?.next).toEqual(asNode === 'c' ? ['c', 'x'] : ['c'])
      }
    })
  }

  itMatches('HITL: updateState as a deferred node that asks keeps it due', async () => {
    const desc: GraphDesc = {
      channels: { log: { kind: 'append' } },
      nodes: { d: { fn: (_s, ops) => ({ log: [`d=${ops.interrupt('q')}`] }), defer: true } },
      edges: [[START, 'd']],
    }
    const r = await runBoth(desc, [{ invoke: { log: ['in'] } }, { updateState: { log: ['u'] }, asNode: 'd' }, { getState: true }, { invoke: null }, { resume: 'yes' }])
    expectSame(r)
    expect(r.langgraph.steps[2]?.state?.next).toEqual(['d'])
  })
})

describe('time travel', () => {
  const chain: GraphDesc = {
    channels: { n: { kind: 'last' }, log: { kind: 'append' } },
    nodes: { double: (s) => ({ n: s.n * 2, log: ['double'] }), inc: (s) => ({ n: s.n + 1, log: ['inc'] }), square: (s) => ({ n: s.n * s.n, log: ['square'] }) },
    edges: [
      [START, 'double'],
      ['double', 'inc'],
      ['inc', 'square'],
      ['square', END],
    ],
  }

  itMatches('time travel: replay from an old checkpoint', async () => {
    // History newest first: [after square, after inc, after double, input]; index 2 is "after double".
    const r = await runBoth(chain, [{ invoke: { n: 3 } }, { invoke: null, checkpoint: 2 }])
    expectSame(r)
  })

  itMatches('time travel: fork an old checkpoint with updateState and continue', async () => {
    const r = await runBoth(chain, [{ invoke: { n: 3 } }, { updateState: { n: 10 }, checkpoint: 2 }, { invoke: null }])
    expectSame(r)
    expect(r.langgraph.state.values.n).toBe(121)
  })

  itMatches('time travel: fork as a node with updateState (asNode) and continue', async () => {
    const r = await runBoth(chain, [{ invoke: { n: 3 } }, { updateState: { n: 10 }, asNode: 'inc', checkpoint: 2 }, { invoke: null }])
    expectSame(r)
  })
})

describe('subgraphs', () => {
  const calls = { edgegraph: 0, langgraph: 0 }
  const inner: GraphDesc = {
    channels: { log: { kind: 'append' } },
    nodes: {
      prepare: (_s, ops) => {
        calls[ops.engine]++
        return { log: ['prepare'] }
      },
      ask: (_s, ops) => ({ log: [`ask:${ops.interrupt<string>('inner question')}`] }),
    },
    edges: [
      [START, 'prepare'],
      ['prepare', 'ask'],
      ['ask', END],
    ],
  }
  const outer: GraphDesc = {
    channels: { log: { kind: 'append' } },
    nodes: { before: () => ({ log: ['before'] }), inner: { subgraph: inner }, after: () => ({ log: ['after'] }) },
    edges: [
      [START, 'before'],
      ['before', 'inner'],
      ['inner', 'after'],
      ['after', END],
    ],
  }

  itMatches('subgraph with an interrupt inside, resumed from the parent', async () => {
    const r = await runBoth(outer, [{ invoke: { log: [] } }, { getState: true }, { resume: 'ok' }])
    expectSame(r)
    // A subgraph hands back its whole `log`, which the parent's append reducer adds to what it had (both engines).
    expect(r.langgraph.state.values.log).toEqual(['before', 'before', 'prepare', 'ask:ok', 'after'])
  })

  itMatches('subgraph checkpoints: nodes before the interrupt inside a subgraph run once', async () => {
    calls.edgegraph = calls.langgraph = 0
    const r = await runBoth(outer, [{ invoke: { log: [] } }, { resume: 'ok' }])
    expectSame(r)
    expect(calls.langgraph).toBe(1)
    expect(calls.edgegraph).toBe(calls.langgraph)
  })

  itMatches('subgraph checkpoints: getState(config, { subgraphs: true }) shows the subgraph waiting inside', async () => {
    const eg = buildEdgegraph(outer)
    const lg = buildLangGraph(outer)
    await eg.invoke({ log: [] }, { threadId: 'sub-state' })
    await lg.invoke({ log: [] }, { configurable: { thread_id: 'sub-state' } })
    const view = (s: { next: string[]; values: State; tasks: { name: string; state?: { values: State; next: string[] } }[] }) => ({
      next: s.next,
      tasks: s.tasks.map((t) => ({ name: t.name, values: t.state?.values, next: t.state?.next })),
    })
    const lgState = view(await lg.getState({ configurable: { thread_id: 'sub-state' } }, { subgraphs: true }))
    expect(lgState.tasks).toEqual([{ name: 'inner', values: { log: ['before', 'prepare'] }, next: ['ask'] }])
    expect(view(await eg.getState({ threadId: 'sub-state' }, { subgraphs: true }))).toEqual(lgState)
  })

  itMatches('Command.PARENT: a subgraph node routes and updates in the parent graph', async () => {
    const handoff: GraphDesc = {
      channels: { log: { kind: 'append' } },
      nodes: { triage: (_s, ops) => ops.command({ update: { log: ['handoff'] }, goto: 'expert', graph: 'PARENT' }) },
      edges: [[START, 'triage']],
    }
    const parent: GraphDesc = {
      channels: { log: { kind: 'append' } },
      nodes: { team: { subgraph: handoff, ends: ['expert'] }, expert: () => ({ log: ['expert'] }) },
      edges: [
        [START, 'team'],
        ['expert', END],
      ],
    }
    const r = await runBoth(parent, [{ invoke: { log: ['in'] } }])
    expectSame(r)
    expect(r.langgraph.state.values.log).toEqual(['in', 'handoff', 'expert'])
  })
})

describe('retries', () => {
  itMatches('retries: retryPolicy runs a failing node again until it succeeds', async () => {
    const attempts = { edgegraph: 0, langgraph: 0 }
    const desc: GraphDesc = {
      channels: { log: { kind: 'append' } },
      nodes: {
        flaky: {
          fn: (_s, ops) => {
            if (++attempts[ops.engine] < 3) throw new Error(`attempt ${attempts[ops.engine]} failed`)
            return { log: [`ok after ${attempts[ops.engine]}`] }
          },
          retryPolicy: { maxAttempts: 3, initialInterval: 1, backoffFactor: 1, jitter: false, retryOn: () => true },
        },
      },
      edges: [
        [START, 'flaky'],
        ['flaky', END],
      ],
    }
    const r = await runBoth(desc, [{ invoke: { log: [] } }])
    expectSame(r)
    expect(attempts).toEqual({ edgegraph: 3, langgraph: 3 })
  })

  itMatches('retries: a node that fails every attempt fails the run after maxAttempts', async () => {
    const attempts = { edgegraph: 0, langgraph: 0 }
    const desc: GraphDesc = {
      channels: { log: { kind: 'append' } },
      nodes: {
        broken: {
          fn: (_s, ops) => {
            attempts[ops.engine]++
            throw new Error('always')
          },
          retryPolicy: { maxAttempts: 2, initialInterval: 1, jitter: false, retryOn: () => true },
        },
      },
      edges: [
        [START, 'broken'],
        ['broken', END],
      ],
    }
    const r = await runBoth(desc, [{ invoke: { log: [] } }])
    expectSame(r, { allowErrors: true })
    expect(r.langgraph.steps[0]?.threw).toBe(true)
    expect(attempts).toEqual({ edgegraph: 2, langgraph: 2 })
  })
})

describe('streaming', () => {
  const writer: GraphDesc = {
    channels: { log: { kind: 'append' } },
    nodes: {
      fetch: (_s, ops) => {
        ops.write({ progress: 0.5 })
        ops.write('half way')
        return { log: ['fetch'] }
      },
      answer: (_s, ops) => {
        ops.write({ progress: 1 })
        return { log: ['answer'] }
      },
    },
    edges: [
      [START, 'fetch'],
      ['fetch', 'answer'],
      ['answer', END],
    ],
  }

  itMatches('streaming: values and updates modes, one and several at once', async () => {
    const parallel: GraphDesc = {
      channels: { log: { kind: 'append' } },
      nodes: { a: () => ({ log: ['a'] }), b: () => ({ log: ['b'] }), c: () => ({ log: ['c'] }) },
      edges: [
        [START, 'b'],
        [START, 'a'],
        ['a', 'c'],
        ['b', 'c'],
        ['c', END],
      ],
    }
    const r = await runBoth(parallel, [
      { stream: { log: ['1'] }, streamMode: 'values' },
      { stream: { log: ['2'] }, streamMode: 'updates' },
      { stream: { log: ['3'] }, streamMode: ['values', 'updates'] },
    ])
    expectSame(r)
  })

  itMatches('streaming: streamMode custom yields what nodes write', async () => {
    const r = await runBoth(writer, [{ stream: { log: [] }, streamMode: 'custom' }, { stream: { log: [] }, streamMode: ['updates', 'custom'] }])
    expectSame(r)
    expect(r.langgraph.steps[0]?.chunks).toEqual([{ progress: 0.5 }, 'half way', { progress: 1 }])
  })

  /**
   * The parts of a `tasks` / `checkpoints` chunk that do not depend on ids and timestamps. LangGraph's checkpoint
   * before the input is applied (`next: ['__start__']`) is dropped, as in the harness's history.
   */
  const essentials = (mode: string, chunk: State): unknown => {
    if (mode === 'tasks') return 'result' in chunk ? { name: chunk.name, result: chunk.result } : { name: chunk.name, input: chunk.input }
    return { values: chunk.values, next: chunk.next, step: chunk.metadata?.step }
  }
  const preStart = (mode: string, chunk: State) => mode === 'checkpoints' && chunk.next?.length === 1 && chunk.next[0] === START

  const sameChunks = async (mode: string) => {
    const r = await runBoth(writer, [{ stream: { log: ['in'] }, streamMode: mode }])
    expect(r.langgraph.steps[0]?.threw).toBe(false)
    const chunks = (e: typeof r.langgraph) => (e.steps[0]?.chunks ?? []).filter((c) => !preStart(mode, c as State)).map((c) => essentials(mode, c as State))
    expect(r.edgegraph.steps[0]?.error).toBeUndefined()
    expect(chunks(r.edgegraph)).toEqual(chunks(r.langgraph))
  }
  itMatches('streaming: streamMode tasks', () => sameChunks('tasks'))
  itMatches('streaming: streamMode checkpoints', () => sameChunks('checkpoints'))
})

describe('defer', () => {
  itMatches('defer: a deferred node runs once, after the longer branch finished', async () => {
    const desc: GraphDesc = {
      channels: { log: { kind: 'append' } },
      nodes: { a: () => ({ log: ['a'] }), b1: () => ({ log: ['b1'] }), b2: () => ({ log: ['b2'] }), collect: { fn: (s) => ({ log: [`collect:${s.log.length}`] }), defer: true } },
      edges: [
        [START, 'a'],
        [START, 'b1'],
        ['b1', 'b2'],
        ['a', 'collect'],
        ['b2', 'collect'],
        ['collect', END],
      ],
    }
    const r = await runBoth(desc, [{ invoke: { log: [] } }])
    expectSame(r)
    expect(r.langgraph.state.values.log).toEqual(['a', 'b1', 'b2', 'collect:3'])
  })

  // Found by the random graphs (seed -1816464209): new input discards the interrupted deferred task, and with it the
  // join that made it due. Routed only to `a` the second time, the join is half met and `d` does not run.
  itMatches('defer: new input instead of a resume starts a join into a deferred node over', async () => {
    const desc: GraphDesc = {
      channels: { log: { kind: 'append' }, both: { kind: 'last' } },
      nodes: { a: () => ({ log: ['a'] }), b: () => ({ log: ['b'] }), d: { fn: (_s, ops) => ({ log: [`d=${ops.interrupt('q')}`] }), defer: true } },
      edges: [[['a', 'b'], 'd']],
      conditional: [{ from: START, path: (s) => (s.both ? ['a', 'b'] : ['a']) }],
    }
    const r = await runBoth(desc, [{ invoke: { log: ['in'], both: true } }, { invoke: { log: ['in2'], both: false } }, { invoke: null }])
    expectSame(r)
    expect(r.langgraph.steps[0]?.interrupts).toEqual(['q'])
    expect(r.langgraph.state.values.log).toEqual(['in', 'a', 'b', 'in2', 'a'])
  })
})

describe('caching', () => {
  /** `embed` counts its calls per engine; `route` sends short text to `short`, the rest to END. */
  const cached = (calls: Record<string, number>, cachePolicy: { ttl?: number; keyFunc?: (args: unknown[]) => string }): GraphDesc => ({
    channels: { text: { kind: 'last' }, vector: { kind: 'last' }, log: { kind: 'append' } },
    nodes: {
      embed: {
        fn: (s, ops) => {
          calls[ops.engine] = (calls[ops.engine] ?? 0) + 1
          return { vector: [...String(s.text)].map((c) => c.charCodeAt(0)), log: [`embed ${s.text}`] }
        },
        cachePolicy,
      },
      short: (s) => ({ log: [`short ${s.text}`] }),
    },
    edges: [[START, 'embed']],
    conditional: [{ from: 'embed', path: (s) => (String(s.text).length < 4 ? 'short' : END) }],
    cache: true,
  })

  itMatches('caching: a node run again with the same input is not run; its writes and routing are reused', async () => {
    const calls: Record<string, number> = {}
    // The default key is the node's whole input: the first two runs differ (vector and log are set by the first).
    const r = await runBoth(cached(calls, {}), [{ invoke: { text: 'hi' } }, { invoke: { text: 'hi' } }, { invoke: { text: 'hi' } }, { invoke: { text: 'hello' } }])
    expectSame(r)
    expect(calls).toEqual({ langgraph: 4, edgegraph: 4 })
    expect(r.langgraph.state.values.log).toHaveLength(7)
  })

  itMatches('caching: keyFunc picks what the cache key depends on', async () => {
    const calls: Record<string, number> = {}
    const keyFunc = (args: unknown[]) => String((args[0] as State).text)
    const r = await runBoth(cached(calls, { keyFunc }), [{ invoke: { text: 'hi' } }, { invoke: { text: 'hi' } }, { invoke: { text: 'hello' } }, { invoke: { text: 'hi' } }])
    expectSame(r)
    expect(calls).toEqual({ langgraph: 2, edgegraph: 2 })
  })

  itMatches('caching: streamMode updates marks a cached result with __metadata__: { cached: true }', async () => {
    const calls: Record<string, number> = {}
    const keyFunc = (args: unknown[]) => String((args[0] as State).text)
    const r = await runBoth(cached(calls, { keyFunc }), [
      { stream: { text: 'hi' }, streamMode: 'updates' },
      { stream: { text: 'hi' }, streamMode: 'updates' },
      // A cached task is announced but, as it does not run, reports no result.
      { stream: { text: 'hi' }, streamMode: 'tasks' },
    ])
    for (const e of [r.edgegraph, r.langgraph]) {
      const tasks = e.steps[2] as { chunks: State[] }
      tasks.chunks = tasks.chunks.map((c) => ('result' in c ? { name: c.name, result: c.result } : { name: c.name, input: c.input }))
    }
    expectSame(r)
    expect(r.langgraph.steps[1]?.chunks).toContainEqual({ embed: { vector: [104, 105], log: ['embed hi'] }, __metadata__: { cached: true } })
    expect(r.langgraph.steps[2]?.chunks?.filter((c) => (c as State).name === 'embed')).toHaveLength(1)
    expect(calls).toEqual({ langgraph: 1, edgegraph: 1 })
  })

  itMatches('caching: a cached result expires after ttl seconds', async () => {
    const calls: Record<string, number> = {}
    const keyFunc = (args: unknown[]) => String((args[0] as State).text)
    const r = await runBoth(cached(calls, { keyFunc, ttl: 0.05 }), [{ invoke: { text: 'hi' } }, { invoke: { text: 'hi' } }])
    expect(calls).toEqual({ langgraph: 1, edgegraph: 1 })
    await new Promise((resolve) => setTimeout(resolve, 120))
    const again = await runBoth(cached(calls, { keyFunc, ttl: 0.05 }), [{ invoke: { text: 'hi' } }])
    expectSame(r)
    expectSame(again)
    expect(calls).toEqual({ langgraph: 2, edgegraph: 2 })
  })
})
