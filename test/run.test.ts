/** Runs: supersteps, fan-out, Command, subgraphs, failures with pending writes, streaming, abort, limits. */
import { describe, expect, it, vi } from 'vitest'
import { Command, END, EdgegraphError, START, Send, StateGraph, isEdgegraphError } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { appendList, collect, counter, deferred, rejectsWith } from './helpers.js'
import { createStore } from '../src/store/index.js'

describe('supersteps', () => {
  it('runs triggered nodes concurrently on one snapshot and applies writes in node-name order, as LangGraph.js does', async () => {
    const seen: Record<string, unknown> = {}
    const gate = deferred()
    const g = new StateGraph({ log: appendList, n: { default: () => 0 } })
      .addNode('slow', async (s) => {
        seen.slow = s.log.length
        await gate.promise
        return { log: ['slow'] }
      })
      .addNode('fast', (s) => {
        seen.fast = s.log.length
        gate.resolve()
        return { log: ['fast'] }
      })
      .addNode('join', (s) => ({ log: [`join saw ${s.log.join('+')}`] }))
      .addEdge(START, 'slow')
      .addEdge(START, 'fast')
      .addEdge('slow', 'join')
      .addEdge('fast', 'join')
      .addEdge('join', END)
      .compile({ checkpointer: createMemoryAdapter() })
    const out = await g.invoke({}, { threadId: 't' })
    // Both saw the same snapshot; writes apply in task order (plain nodes by name, whoever finishes first), join ran once.
    expect(seen).toEqual({ slow: 0, fast: 0 })
    expect(out.log).toEqual(['fast', 'slow', 'join saw fast+slow'])
    const history = await collect(g.getStateHistory({ threadId: 't' }))
    expect(history.map((h) => h.next)).toEqual([[], ['join'], ['fast', 'slow']])
    expect(history[1]?.metadata.writes).toEqual({ slow: ['log'], fast: ['log'] })
  })

  it("a node's conditional edges see the state before the step plus only that node's writes, as in LangGraph.js", async () => {
    const seen: unknown[] = []
    const g = new StateGraph({ log: appendList, x: { default: () => 0 } })
      .addNode('b', () => ({ log: ['b'], x: 1 }))
      .addNode('a', () => ({ log: ['a'] }))
      .addNode('d', () => ({ log: ['d'] }))
      .addEdge(START, 'b')
      .addEdge(START, 'a')
      .addConditionalEdges('a', (s) => {
        seen.push({ x: s.x, log: s.log })
        return END
      })
      .addEdge('b', 'd')
      .addEdge('d', END)
      .compile()
    expect(await g.invoke({})).toEqual({ log: ['a', 'b', 'd'], x: 1 })
    expect(seen).toEqual([{ x: 0, log: ['a'] }])
  })

  it('applies a step\'s writes with plain node tasks by name first, then Send tasks in the order sent', async () => {
    const g = new StateGraph({ log: appendList, tag: {} })
      .addNode('w', (s) => ({ log: [String(s.tag)] }))
      .addNode('z', () => ({ log: ['z'] }))
      .addNode('a', () => ({ log: ['a'] }))
      .addConditionalEdges(START, () => [new Send('w', { tag: 's1' }), 'z', new Send('w', { tag: 's2' }), 'a'])
      .compile()
    // LangGraph.js 1.7.3 gives the same on this graph.
    expect((await g.invoke({})).log).toEqual(['a', 'z', 's1', 's2'])
  })

  it('a waiting edge runs its target once, after the last source finished, even in a later step (as LangGraph.js)', async () => {
    const g = new StateGraph({ log: appendList })
      .addNode('a', () => ({ log: ['a'] }))
      .addNode('b1', () => ({ log: ['b1'] }))
      .addNode('b', () => ({ log: ['b'] }))
      .addNode('c', (s) => ({ log: [`c saw ${s.log.join('|')}`] }))
      .addEdge(START, 'a')
      .addEdge(START, 'b1')
      .addEdge('b1', 'b')
      .addEdge(['a', 'b'], 'c')
      .addEdge('c', END)
      .compile({ checkpointer: createMemoryAdapter(), interruptBefore: ['b'] })
    // Paused between the two arrivals: what the join has seen is stored and carried over to the next run.
    await g.invoke({}, { threadId: 'j' })
    expect(await g.invoke(null, { threadId: 'j' })).toEqual({ log: ['a', 'b1', 'b', 'c saw a|b1|b'] })
    const history = (await collect(g.getStateHistory({ threadId: 'j' }))).reverse()
    // Same steps, next and values as LangGraph.js 1.7.3 on this graph (which has no interrupt there).
    expect(history.map((h) => [h.metadata.step, h.next, h.values.log])).toEqual([
      [0, ['a', 'b1'], []],
      [1, ['b'], ['a', 'b1']],
      [2, ['c'], ['a', 'b1', 'b']],
      [3, [], ['a', 'b1', 'b', 'c saw a|b1|b']],
    ])
  })

  it('a defer node runs once, when nothing else is left to run (as LangGraph.js)', async () => {
    let runs = 0
    const g = new StateGraph({ log: appendList })
      .addNode('a', () => ({ log: ['a'] }))
      .addNode('b1', () => ({ log: ['b1'] }))
      .addNode('b2', () => ({ log: ['b2'] }))
      .addNode(
        'd',
        (s) => {
          runs++
          return { log: [`d saw ${s.log.join('|')}`] }
        },
        { defer: true },
      )
      .addEdge(START, 'a')
      .addEdge(START, 'b1')
      .addEdge('b1', 'b2')
      .addEdge('a', 'd')
      .addEdge('b2', 'd')
      .addEdge('d', END)
      .compile({ checkpointer: createMemoryAdapter() })
    expect(await g.invoke({}, { threadId: 'd' })).toEqual({ log: ['a', 'b1', 'b2', 'd saw a|b1|b2'] })
    expect(runs).toBe(1)
    const history = (await collect(g.getStateHistory({ threadId: 'd' }))).reverse()
    expect(history.map((h) => [h.metadata.step, h.next])).toEqual([
      [0, ['a', 'b1']],
      [1, ['b2']],
      [2, ['d']],
      [3, []],
    ])
  })

  it('fans out with Send and gathers with a reducer', async () => {
    const g = new StateGraph({ topics: { default: (): string[] => [] }, drafts: appendList })
      .addNode('write', (arg) => ({ drafts: [`draft about ${(arg as unknown as { topic: string }).topic}`] }))
      .addConditionalEdges(START, (s) => s.topics.map((topic) => new Send('write', { topic })))
      .addEdge('write', END)
      .compile({ checkpointer: createMemoryAdapter() })
    const out = await g.invoke({ topics: ['cats', 'dogs', 'owls'] }, { threadId: 'fan' })
    expect(out.drafts).toEqual(['draft about cats', 'draft about dogs', 'draft about owls'])
  })

  it('routes with Command({ update, goto }) from a node', async () => {
    const g = new StateGraph({ route: { default: () => '' } })
      .addNode('decide', () => new Command({ update: { route: 'left' }, goto: 'left' }), { ends: ['left', 'right'] })
      .addNode('left', (s) => ({ route: `${s.route}!` }))
      .addNode('right', () => ({ route: 'wrong' }))
      .addEdge(START, 'decide')
      .compile()
    expect(await g.invoke({})).toEqual({ route: 'left!' })
  })

  it('runs a compiled graph as a node (subgraph), sharing channels', async () => {
    const inner = new StateGraph({ count: { default: () => 0 }, scratch: { default: () => 'private' } })
      .addNode('double', (s) => ({ count: s.count * 2, scratch: 'changed' }))
      .addEdge(START, 'double')
      .compile()
    const outer = new StateGraph({ count: { default: () => 0 } })
      .addNode('inc', (s) => ({ count: s.count + 1 }))
      .addNode('sub', inner)
      .addEdge(START, 'inc')
      .addEdge('inc', 'sub')
      .addEdge('sub', END)
      .compile({ checkpointer: createMemoryAdapter() })
    expect(await outer.invoke({ count: 2 }, { threadId: 's' })).toEqual({ count: 6 })
  })

  it('hands back a channel the subgraph wrote that the parent had not set (no default), as LangGraph.js does', async () => {
    const channels = { q: {}, answer: {} }
    const inner = new StateGraph(channels)
      .addNode('respond', (s) => ({ answer: `A(${s.q})` }))
      .addEdge(START, 'respond')
      .compile()
    const outer = new StateGraph(channels).addNode('sub', inner).addEdge(START, 'sub').compile({ checkpointer: createMemoryAdapter() })
    expect(await outer.invoke({ q: 'x' }, { threadId: 'unset' })).toEqual({ q: 'x', answer: 'A(x)' })
    expect((await outer.getState({ threadId: 'unset' })).values).toEqual({ q: 'x', answer: 'A(x)' })
    // Without a checkpointer too, and with a channel only the subgraph knows kept to itself.
    const inner2 = new StateGraph({ q: {}, answer: {}, scratch: {} })
      .addNode('respond', (s) => ({ answer: `B(${s.q})`, scratch: 'private' }))
      .addEdge(START, 'respond')
      .compile()
    expect(await new StateGraph(channels).addNode('sub', inner2).addEdge(START, 'sub').compile().invoke({ q: 'y' })).toEqual({ q: 'y', answer: 'B(y)' })
  })

  it('hands back a write made after resuming an interrupt() inside a subgraph, to a channel the parent had not set', async () => {
    const channels = { q: {}, answer: {} }
    const inner = new StateGraph(channels)
      .addNode('ask', (s, ctx) => ({ answer: `${s.q}: ${ctx.interrupt<string>('name?')}` }))
      .addEdge(START, 'ask')
      .compile()
    const outer = new StateGraph(channels).addNode('sub', inner).addEdge(START, 'sub').compile({ checkpointer: createMemoryAdapter() })
    const first = await outer.invoke({ q: 'hello' }, { threadId: 'ri' })
    expect(first.__interrupt__?.[0]?.value).toBe('name?')
    expect(await outer.invoke(new Command({ resume: 'Ada' }), { threadId: 'ri' })).toEqual({ q: 'hello', answer: 'hello: Ada' })
  })

  it('refuses a subgraph compiled with a checkpointer or static interrupts, which it would silently lose', () => {
    const build = () => new StateGraph({ n: { default: () => 0 } }).addNode('a', () => ({ n: 1 })).addEdge(START, 'a')
    const outer = new StateGraph({ n: { default: () => 0 } })
    let err: unknown
    try {
      outer.addNode('sub', build().compile({ checkpointer: createMemoryAdapter() }))
    } catch (e) {
      err = e
    }
    expect(isEdgegraphError(err, 'INVALID_ARGUMENT') && err.message).toMatch(/addNode\("sub", subgraph\).*checkpointer/)
    expect(() => build().compile({ interruptBefore: ['a'] })).toThrow(/need compile\(\{ checkpointer \}\)/)
  })

  it('lets interrupt() inside a subgraph pause the parent and resume it', async () => {
    const inner = new StateGraph({ answer: { default: () => '' } })
      .addNode('ask', (_s, ctx) => ({ answer: ctx.interrupt<string>('name?') }))
      .addEdge(START, 'ask')
      .compile()
    const outer = new StateGraph({ answer: { default: () => '' } })
      .addNode('sub', inner)
      .addEdge(START, 'sub')
      .compile({ checkpointer: createMemoryAdapter() })
    const first = await outer.invoke({}, { threadId: 'si' })
    expect(first.__interrupt__?.[0]?.value).toBe('name?')
    expect(await outer.invoke(new Command({ resume: 'Ada' }), { threadId: 'si' })).toEqual({ answer: 'Ada' })
  })
})

describe('failures', () => {
  function flaky(store = createMemoryAdapter()) {
    const calls = { ok: 0, bad: 0 }
    let broken = true
    const g = new StateGraph({ log: appendList })
      .addNode('ok', () => {
        calls.ok++
        return { log: ['ok'] }
      })
      .addNode('bad', () => {
        calls.bad++
        if (broken) throw new Error('upstream timeout')
        return { log: ['bad'] }
      })
      .addEdge(START, 'ok')
      .addEdge(START, 'bad')
      .addEdge('ok', END)
      .addEdge('bad', END)
      .compile({ checkpointer: store })
    return { g, calls, fix: () => (broken = false), store }
  }

  it('keeps finished sibling writes as pending writes and re-runs only the failed node', async () => {
    const { g, calls, fix } = flaky()
    const err = await rejectsWith(g.invoke({}, { threadId: 'f' }), 'NODE_FAILED')
    expect(err.message).toContain('Node "bad" failed')
    expect(err.message).toContain('upstream timeout')
    expect(err.context).toMatchObject({ threadId: 'f', node: 'bad' })
    expect((err as Error).cause).toBeInstanceOf(Error)

    const state = await g.getState({ threadId: 'f' })
    // As LangGraph.js shows it: ok's finished writes applied, and only bad left to run.
    expect(state.next).toEqual(['bad'])
    expect(state.values).toEqual({ log: ['ok'] })
    expect(state.tasks.map((t) => [t.name, t.result, t.error?.message])).toEqual([
      ['bad', undefined, 'upstream timeout'],
      ['ok', { log: ['ok'] }, undefined],
    ])
    fix()
    expect(await g.invoke(null, { threadId: 'f' })).toEqual({ log: ['bad', 'ok'] })
    expect(calls).toEqual({ ok: 1, bad: 2 })
  })

  it('deletes folded pending writes from storage', async () => {
    const { g, fix, store } = flaky()
    await g.invoke({}, { threadId: 'f' }).catch(() => {})
    const before = (await collect(store.scan('f'))).map(([k]) => k)
    expect(before.filter((k) => k.startsWith('w/'))).toHaveLength(2)
    fix()
    await g.invoke(null, { threadId: 'f' })
    const after = (await collect(store.scan('f'))).map(([k]) => k)
    expect(after.filter((k) => k.startsWith('w/'))).toHaveLength(0)
  })

  it('stops runaway loops with RECURSION_LIMIT and keeps the last checkpoint resumable', async () => {
    const store = createMemoryAdapter()
    const g = counter(store, 100)
    const err = await rejectsWith(g.invoke({ count: 0 }, { threadId: 'r', recursionLimit: 10 }), 'RECURSION_LIMIT')
    expect(err.message).toContain('took 10 steps')
    expect((await g.getState({ threadId: 'r' })).values).toEqual({ count: 10 })
    expect(await g.invoke(null, { threadId: 'r', recursionLimit: 200 })).toEqual({ count: 100 })
  })

  it('aborts cleanly at a step boundary with the last checkpoint intact', async () => {
    const store = createMemoryAdapter()
    const controller = new AbortController()
    const g = new StateGraph({ count: { default: () => 0 } })
      .addNode('increment', (s) => {
        if (s.count === 3) controller.abort()
        return { count: s.count + 1 }
      })
      .addEdge(START, 'increment')
      .addConditionalEdges('increment', (s) => (s.count >= 10 ? END : 'increment'))
      .compile({ checkpointer: store })
    await rejectsWith(g.invoke({ count: 0 }, { threadId: 'a', signal: controller.signal }), 'ABORTED')
    const state = await g.getState({ threadId: 'a' })
    expect(state.values.count).toBe(4)
    const history = await collect(g.getStateHistory({ threadId: 'a' }))
    expect(history.map((h) => h.values.count)).toEqual([4, 3, 2, 1, 0])
    expect(await g.invoke(null, { threadId: 'a' })).toEqual({ count: 10 })
  })
})

describe('stream', () => {
  it('streams values, updates and debug checkpoint events', async () => {
    const g = counter(createMemoryAdapter(), 2)
    const values = await collect(g.stream({ count: 0 }, { threadId: 'v' }))
    expect(values).toEqual([{ count: 0 }, { count: 1 }, { count: 2 }])
    const updates = await collect(g.stream({ count: 0 }, { threadId: 'u', streamMode: 'updates' }))
    expect(updates).toEqual([{ increment: { count: 1 } }, { increment: { count: 2 } }])
    const both = await collect(g.stream({ count: 0 }, { threadId: 'd', streamMode: ['debug', 'values'] }))
    const checkpoints = both.filter(([mode, e]) => mode === 'debug' && (e as { type: string }).type === 'checkpoint')
    expect(checkpoints).toHaveLength(3)
    const stored = await collect(g.getStateHistory({ threadId: 'd' }))
    expect(checkpoints.map(([, e]) => (e as { payload: { checkpointId: string } }).payload.checkpointId)).toEqual(stored.map((s) => s.config.checkpointId).reverse())
  })

  it('stops the run when the consumer breaks out, keeping what was stored', async () => {
    const g = counter(createMemoryAdapter(), 50)
    for await (const v of g.stream({ count: 0 }, { threadId: 'b', recursionLimit: 100 })) {
      if ((v as { count: number }).count === 3) break
    }
    const state = await g.getState({ threadId: 'b' })
    expect(state.values.count).toBeLessThan(50)
    expect(await g.invoke(null, { threadId: 'b', recursionLimit: 100 })).toEqual({ count: 50 })
  })

  it('reports interrupts in updates mode and errors to the consumer', async () => {
    const g = new StateGraph({ a: { default: () => '' } })
      .addNode('ask', (_s, ctx) => ({ a: ctx.interrupt<string>('?') }))
      .addEdge(START, 'ask')
      .compile({ checkpointer: createMemoryAdapter() })
    const chunks = await collect(g.stream({}, { threadId: 'i', streamMode: 'updates' }))
    expect(chunks).toEqual([{ __interrupt__: [expect.objectContaining({ value: '?', node: 'ask', when: 'during' })] }])
    const broken = new StateGraph({ a: { default: () => '' } })
      .addNode('boom', () => {
        throw new Error('nope')
      })
      .addEdge(START, 'boom')
      .compile()
    await expect(collect(broken.stream({}))).rejects.toSatisfy((e) => isEdgegraphError(e, 'NODE_FAILED'))
  })
})

describe('usage and metadata', () => {
  it('records usage per step and sums it per branch', async () => {
    const g = new StateGraph({ n: { default: () => 0 } })
      .addNode('llm', (s, ctx) => {
        ctx.reportUsage({ inputTokens: 100, outputTokens: 20, costUsd: 0.001 })
        return { n: s.n + 1 }
      })
      .addEdge(START, 'llm')
      .addConditionalEdges('llm', (s) => (s.n >= 3 ? END : 'llm'))
      .compile({ checkpointer: createMemoryAdapter() })
    await g.invoke({}, { threadId: 'u', metadata: { user: 'ada' } })
    const state = await g.getState({ threadId: 'u' })
    expect(state.metadata.usage).toEqual({ inputTokens: 100, outputTokens: 20, costUsd: 0.001 })
    expect(state.metadata.usageTotal?.inputTokens).toBe(300)
    expect(state.metadata.usageTotal?.costUsd).toBeCloseTo(0.003)
    expect(state.metadata.user).toBe('ada')
    expect(state.metadata.durationMs).toBeGreaterThanOrEqual(0)
    const loops = await collect(g.getStateHistory({ threadId: 'u' }, { filter: { source: 'loop' } }))
    expect(loops).toHaveLength(3)
    expect(loops.every((s) => s.metadata.writes.llm?.includes('n'))).toBe(true)
  })
})

describe('cross-thread memory', () => {
  it('nodes of every thread share compile({ store }) as ctx.store, kept in the same adapter as the checkpoints', async () => {
    const adapter = createMemoryAdapter()
    const store = createStore(adapter)
    const g = new StateGraph({ user: {}, reply: {} })
      .addNode('remember', async (s, ctx) => {
        const seen = await ctx.store?.get(['users', String(s.user)], 'visits')
        const visits = ((seen?.value.count as number | undefined) ?? 0) + 1
        await ctx.store?.put(['users', String(s.user)], 'visits', { count: visits })
        return { reply: `visit ${visits}` }
      })
      .addEdge(START, 'remember')
      .compile({ checkpointer: adapter, store })
    expect(await g.invoke({ user: 'ada' }, { threadId: 't1' })).toEqual({ user: 'ada', reply: 'visit 1' })
    expect(await g.invoke({ user: 'ada' }, { threadId: 't2' })).toEqual({ user: 'ada', reply: 'visit 2' })
    expect((await createStore(adapter).get(['users', 'ada'], 'visits'))?.value).toEqual({ count: 2 })
  })
})

describe('retries (retryPolicy, as in LangGraph.js)', () => {
  function flaky(failures: number, error: () => unknown = () => new Error('upstream 503'), policy: Record<string, unknown> = {}) {
    const calls = { n: 0 }
    const g = new StateGraph({ out: { default: () => '' } })
      .addNode(
        'call',
        () => {
          calls.n++
          if (calls.n <= failures) throw error()
          return { out: `ok after ${calls.n}` }
        },
        { retryPolicy: { maxAttempts: 3, initialInterval: 0, jitter: false, ...policy } },
      )
      .addEdge(START, 'call')
      .compile({ checkpointer: createMemoryAdapter() })
    return { g, calls }
  }

  it('runs a failing node again until it succeeds, and records the attempts in the metadata', async () => {
    const { g, calls } = flaky(2)
    expect(await g.invoke({}, { threadId: 'r' })).toEqual({ out: 'ok after 3' })
    expect(calls.n).toBe(3)
    expect((await g.getState({ threadId: 'r' })).metadata.attempts).toEqual({ call: 3 })
  })

  it('gives up after maxAttempts with NODE_FAILED, the step left to resume as usual', async () => {
    const { g, calls } = flaky(5)
    await rejectsWith(g.invoke({}, { threadId: 'r' }), 'NODE_FAILED')
    expect(calls.n).toBe(3)
    expect((await g.getState({ threadId: 'r' })).tasks[0]?.error?.message).toBe('upstream 503')
    expect(await g.invoke(null, { threadId: 'r' })).toEqual({ out: 'ok after 6' })
  })

  it("retries by default what LangGraph.js retries: not edgegraph's own errors nor HTTP 4xx but 408; retryOn decides otherwise", async () => {
    const status = (s: number) => () => Object.assign(new Error(`HTTP ${s}`), { status: s })
    for (const [error, expected] of [
      [status(404), 1],
      [() => ({ response: { status: 409 } }), 1],
      [status(408), 3],
      [status(500), 3],
      [() => new EdgegraphError('INVALID_UPDATE', 'bad'), 1],
    ] as const) {
      const { g, calls } = flaky(5, error)
      await g.invoke({}, { threadId: 'r' }).catch(() => {})
      expect(calls.n).toBe(expected)
    }
    const { g, calls } = flaky(5, status(500), { retryOn: () => false })
    await g.invoke({}, { threadId: 'r' }).catch(() => {})
    expect(calls.n).toBe(1)
  })

  it('waits initialInterval × backoffFactor^n between attempts, and an abort ends the wait and the run', async () => {
    const { g, calls } = flaky(5, undefined, { initialInterval: 60_000 })
    const controller = new AbortController()
    const run = g.invoke({}, { threadId: 'r', signal: controller.signal })
    await vi.waitFor(() => expect(calls.n).toBe(1))
    controller.abort()
    await rejectsWith(run, 'ABORTED')
    expect(calls.n).toBe(1)
  })
})

describe('stream modes as in LangGraph.js', () => {
  const chat = () => {
    const inner = new StateGraph({ log: appendList })
      .addNode('deep', (_s, ctx) => {
        ctx.write({ progress: 'inside' })
        return { log: ['deep'] }
      })
      .addEdge(START, 'deep')
      .compile()
    return new StateGraph({ log: appendList })
      .addNode('model', (_s, ctx) => {
        ctx.write({ progress: 0.5 })
        for (const token of ['Hel', 'lo']) ctx.writeMessage({ id: 'm1', content: token })
        return { log: ['Hello'] }
      })
      .addNode('sub', inner)
      .addEdge(START, 'model')
      .addEdge('model', 'sub')
      .compile({ checkpointer: createMemoryAdapter() })
  }

  it('custom yields what nodes ctx.write, messages yields [chunk, meta] for each ctx.writeMessage', async () => {
    const chunks = await collect(chat().stream({}, { threadId: 's', streamMode: ['custom', 'messages'] }))
    expect(chunks).toEqual([
      ['custom', { progress: 0.5 }],
      ['messages', [{ id: 'm1', content: 'Hel' }, { node: 'model', step: 1, threadId: 's' }]],
      ['messages', [{ id: 'm1', content: 'lo' }, { node: 'model', step: 1, threadId: 's' }]],
    ])
  })

  it('subgraphs: true adds the events from inside subgraphs, as [namespace, mode, chunk]', async () => {
    const chunks = await collect(chat().stream({}, { threadId: 's', streamMode: ['custom', 'updates'], subgraphs: true }))
    const inside = chunks.filter((c) => (c as [string[]])[0].length > 0) as [string[], string, unknown][]
    expect(inside.map(([ns, mode, chunk]) => [ns[0]?.split(':')[0], mode, chunk])).toEqual([
      ['sub', 'custom', { progress: 'inside' }],
      ['sub', 'updates', { deep: { log: ['deep'] } }],
    ])
    expect(chunks.filter((c) => (c as [string[]])[0].length === 0).map((c) => (c as unknown[])[1])).toEqual(['custom', 'updates', 'updates'])
  })

  it('tasks reports each task starting and ending; checkpoints each stored checkpoint as getState shows it', async () => {
    const g = chat()
    const tasks = (await collect(g.stream({}, { threadId: 't', streamMode: 'tasks' }))) as Record<string, unknown>[]
    expect(tasks.map((t) => [t.name, 'input' in t ? 'start' : 'end'])).toEqual([
      ['model', 'start'],
      ['model', 'end'],
      ['sub', 'start'],
      ['sub', 'end'],
    ])
    expect(tasks[1]).toMatchObject({ name: 'model', result: { log: ['Hello'] }, interrupts: [] })
    const checkpoints = await collect(g.stream({}, { threadId: 'c', streamMode: 'checkpoints' }))
    const history = await collect(g.getStateHistory({ threadId: 'c' }))
    expect(checkpoints).toEqual(history.reverse())
  })

  it('values reports an interrupt as { __interrupt__ }, then the state with the finished tasks\' writes', async () => {
    const g = new StateGraph({ log: appendList })
      .addNode('ask', (_s, ctx) => ({ log: [`ask:${ctx.interrupt('q')}`] }))
      .addNode('quick', () => ({ log: ['quick'] }))
      .addEdge(START, 'ask')
      .addEdge(START, 'quick')
      .compile({ checkpointer: createMemoryAdapter() })
    const chunks = (await collect(g.stream({ log: ['in'] }, { threadId: 'v' }))) as Record<string, unknown>[]
    expect(chunks[0]).toEqual({ log: ['in'] })
    expect((chunks[1]?.__interrupt__ as { value: unknown }[]).map((i) => i.value)).toEqual(['q'])
    expect(chunks[2]).toEqual({ log: ['in', 'quick'] })
    expect((await g.getState({ threadId: 'v' })).next).toEqual(['ask'])
  })
})

describe('batch and withConfig, as in LangGraph.js', () => {
  it('batch runs each input (one config for all, or one each) and keeps their order', async () => {
    const g = counter()
    expect(await g.batch([{ count: 0 }, { count: 3 }], [{ threadId: 'a' }, { threadId: 'b' }])).toEqual([{ count: 5 }, { count: 5 }])
    expect((await g.getState({ threadId: 'b' })).metadata.step).toBe(2)
    await rejectsWith(g.batch([{ count: 0 }], { threadId: 'a', recursionLimit: 0 }), 'INVALID_ARGUMENT')
  })

  it('withConfig gives every run of the new graph object its options; a run can still override them', async () => {
    const base = counter()
    const limited = base.withConfig({ recursionLimit: 2, metadata: { app: 'demo' } })
    await rejectsWith(limited.invoke({ count: 0 }, { threadId: 'w' }), 'RECURSION_LIMIT')
    expect((await limited.getState({ threadId: 'w' })).metadata.app).toBe('demo')
    expect(await limited.invoke({ count: 0 }, { threadId: 'x', recursionLimit: 10 })).toEqual({ count: 5 })
    expect(await base.invoke({ count: 0 }, { threadId: 'y' })).toEqual({ count: 5 })
    expect(() => base.withConfig({ configurable: {} } as never)).toThrow(/option "configurable"/)
  })
})

describe('subgraphs with checkpoints of their own (as LangGraph.js)', () => {
  function nested(store = createMemoryAdapter()) {
    const runs = { prepare: 0, ask: 0 }
    let broken = false
    const inner = new StateGraph({ log: appendList })
      .addNode('prepare', () => {
        runs.prepare++
        return { log: ['prepared'] }
      })
      .addNode('ask', (_s, ctx) => {
        runs.ask++
        const answer = ctx.interrupt<string>('name?')
        if (broken) throw new Error('flaky')
        return { log: [`hello ${answer}`] }
      })
      .addEdge(START, 'prepare')
      .addEdge('prepare', 'ask')
      .compile()
    const outer = new StateGraph({ log: appendList })
      .addNode('sub', inner)
      .addNode('after', (s) => ({ log: [`after ${s.log.length}`] }))
      .addEdge(START, 'sub')
      .addEdge('sub', 'after')
      .compile({ checkpointer: store })
    return { outer, runs, store, breakIt: (b: boolean) => (broken = b) }
  }

  it('resumes an interrupted subgraph where it stopped: its finished nodes do not run again', async () => {
    const { outer, runs, store } = nested()
    expect((await outer.invoke({}, { threadId: 's' })).__interrupt__?.[0]?.value).toBe('name?')
    // getState(config, { subgraphs: true }) shows the subgraph waiting inside.
    const state = await outer.getState({ threadId: 's' }, { subgraphs: true })
    expect(state.tasks[0]?.state?.values).toEqual({ log: ['prepared'] })
    expect(state.tasks[0]?.state?.next).toEqual(['ask'])
    expect(await outer.invoke(new Command({ resume: 'Ada' }), { threadId: 's' })).toEqual({ log: ['prepared', 'hello Ada', 'after 2'] })
    expect(runs).toEqual({ prepare: 1, ask: 2 })
    // The subgraph's checkpoints live in the parent's thread (under s/), and go with it.
    expect((await collect(store.scan('s'))).some(([k]) => k.startsWith('s/sub:'))).toBe(true)
    await outer.deleteThread('s')
    expect(await collect(store.scan('s'))).toEqual([])
  })

  it('a failure inside a subgraph resumes from the subgraph checkpoint, with the answer it was given', async () => {
    const { outer, runs, breakIt } = nested()
    await outer.invoke({}, { threadId: 'f' })
    breakIt(true)
    await rejectsWith(outer.invoke(new Command({ resume: 'Bo' }), { threadId: 'f' }), 'NODE_FAILED')
    breakIt(false)
    expect(await outer.invoke(null, { threadId: 'f' })).toEqual({ log: ['prepared', 'hello Bo', 'after 2'] })
    expect(runs.prepare).toBe(1)
  })

  it('Command({ graph: Command.PARENT }) from a subgraph node updates and routes in the parent', async () => {
    const inner = new StateGraph({ log: appendList })
      .addNode('decide', () => new Command({ graph: Command.PARENT, goto: 'expert', update: { log: ['escalated'] } }))
      .addEdge(START, 'decide')
      .compile()
    const outer = new StateGraph({ log: appendList })
      .addNode('sub', inner, { ends: ['expert'] })
      .addNode('expert', (s) => ({ log: [`expert saw ${s.log.join('|')}`] }))
      .addEdge(START, 'sub')
      .compile({ checkpointer: createMemoryAdapter() })
    expect(await outer.invoke({}, { threadId: 'p' })).toEqual({ log: ['escalated', 'expert saw escalated'] })
    const top = new StateGraph({ log: appendList }).addNode('x', () => new Command({ graph: Command.PARENT, goto: END })).addEdge(START, 'x').compile()
    expect((await rejectsWith(top.invoke({}), 'INVALID_UPDATE')).message).toContain('has no parent')
  })
})

