/** Human in the loop: interruptBefore/After, interrupt() inside nodes, resume with Command. */
import { describe, expect, it } from 'vitest'
import { Command, EdgegraphError, END, START, StateGraph } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { appendList, collect, counter, rejectsWith } from './helpers.js'

function approval(store = createMemoryAdapter()) {
  let draftRuns = 0
  const g = new StateGraph({ log: appendList, decision: { default: () => '' } })
    .addNode('draft', () => {
      draftRuns++
      return { log: ['drafted'] }
    })
    .addNode('review', (_s, ctx) => {
      const decision = ctx.interrupt<string>({ question: 'ship it?' })
      return { decision, log: [`review: ${decision}`] }
    })
    .addNode('ship', () => ({ log: ['shipped'] }))
    .addEdge(START, 'draft')
    .addEdge('draft', 'review')
    .addConditionalEdges('review', (s) => (s.decision === 'yes' ? 'ship' : END), ['ship', END])
    .addEdge('ship', END)
    .compile({ checkpointer: store })
  return { g, runs: () => draftRuns }
}

describe('a node refusing its resume value', () => {
  it('throws INVALID_ARGUMENT and leaves the interrupt waiting as it was; a proper answer then resumes', async () => {
    const g = new StateGraph({ log: appendList })
      .addNode('ask', (_s, ctx) => {
        const answer = ctx.interrupt<unknown>('yes or no?')
        if (answer !== 'yes' && answer !== 'no') throw new EdgegraphError('INVALID_ARGUMENT', 'answer "yes" or "no"')
        return { log: [`answered ${answer}`] }
      })
      .addEdge(START, 'ask')
      .compile({ checkpointer: createMemoryAdapter() })
    await g.invoke({}, { threadId: 'r' })
    const before = await g.getState({ threadId: 'r' })
    for (const bad of [null, 'maybe', 42]) {
      expect((await rejectsWith(g.invoke(new Command({ resume: bad }), { threadId: 'r' }), 'INVALID_ARGUMENT')).message).toBe('answer "yes" or "no"')
      expect(await g.getState({ threadId: 'r' })).toEqual(before)
    }
    expect((await g.invoke(new Command({ resume: 'yes' }), { threadId: 'r' })).log).toEqual(['answered yes'])
  })
})

describe('interrupt() inside a node', () => {
  it('pauses with the value, shows it in getState, and resumes with Command({ resume })', async () => {
    const { g, runs } = approval()
    const first = await g.invoke({}, { threadId: 'h' })
    expect(first).toEqual({ log: ['drafted'], decision: '' })
    expect(first.__interrupt__).toEqual([expect.objectContaining({ node: 'review', when: 'during', value: { question: 'ship it?' } })])
    expect(JSON.stringify(first)).toBe('{"log":["drafted"],"decision":""}')

    const state = await g.getState({ threadId: 'h' })
    expect(state.next).toEqual(['review'])
    expect(state.interrupts).toEqual(first.__interrupt__)
    expect(state.tasks[0]?.interrupts[0]?.value).toEqual({ question: 'ship it?' })

    const done = await g.invoke(new Command({ resume: 'yes' }), { threadId: 'h' })
    expect(done).toEqual({ log: ['drafted', 'review: yes', 'shipped'], decision: 'yes' })
    expect(runs()).toBe(1)
    expect((await g.getState({ threadId: 'h' })).interrupts).toEqual([])
  })

  it('resumes from a fresh graph object (as after a reload)', async () => {
    const store = createMemoryAdapter()
    await approval(store).g.invoke({}, { threadId: 'h' })
    const again = approval(store)
    expect((await again.g.invoke(new Command({ resume: 'no' }), { threadId: 'h' })).log).toEqual(['drafted', 'review: no'])
    expect(again.runs()).toBe(0)
  })

  it('supports several interrupts in one node, answered one by one', async () => {
    const g = new StateGraph({ answers: appendList })
      .addNode('form', (_s, ctx) => {
        const name = ctx.interrupt<string>('name?')
        const age = ctx.interrupt<string>('age?')
        return { answers: [name, age] }
      })
      .addEdge(START, 'form')
      .compile({ checkpointer: createMemoryAdapter() })
    expect((await g.invoke({}, { threadId: 'f' })).__interrupt__?.[0]?.value).toBe('name?')
    expect((await g.invoke(new Command({ resume: 'Ada' }), { threadId: 'f' })).__interrupt__?.[0]?.value).toBe('age?')
    expect(await g.invoke(new Command({ resume: '36' }), { threadId: 'f' })).toEqual({ answers: ['Ada', '36'] })
  })

  it('answers parallel interrupts by id', async () => {
    const g = new StateGraph({ answers: appendList })
      .addNode('a', (_s, ctx) => ({ answers: [`a:${ctx.interrupt('A?')}`] }))
      .addNode('b', (_s, ctx) => ({ answers: [`b:${ctx.interrupt('B?')}`] }))
      .addEdge(START, 'a')
      .addEdge(START, 'b')
      .compile({ checkpointer: createMemoryAdapter() })
    const first = await g.invoke({}, { threadId: 'p' })
    const [ia, ib] = first.__interrupt__ ?? []
    expect([ia?.value, ib?.value]).toEqual(['A?', 'B?'])
    const done = await g.invoke(new Command({ resume: { [ia?.id as string]: 1, [ib?.id as string]: 2 } }), { threadId: 'p' })
    expect(done.answers).toEqual(['a:1', 'b:2'])
  })

  it('a new input abandons a pending interrupt but keeps it in the old checkpoint for audit', async () => {
    const { g } = approval()
    await g.invoke({}, { threadId: 'h' })
    const paused = await g.getState({ threadId: 'h' })
    await g.invoke({ log: ['new turn'] }, { threadId: 'h' })
    const head = await g.getState({ threadId: 'h' })
    expect(head.values.log).toEqual(['drafted', 'new turn', 'drafted'])
    expect((await g.getState(paused.config)).interrupts).toEqual(paused.interrupts)
  })

  it('rejects a resume value when nothing is waiting, leaving history intact', async () => {
    const store = createMemoryAdapter()
    const g = counter(store)
    await g.invoke({ count: 0 }, { threadId: 'n' })
    const before = store.bytes('n')
    const err = await rejectsWith(g.invoke(new Command({ resume: 1 }), { threadId: 'n' }), 'NO_PENDING_INTERRUPT')
    expect(err.message).toContain('thread "n"')
    expect(store.bytes('n')).toBe(before)
  })
})

describe('interruptBefore / interruptAfter', () => {
  it('stops before a node and continues with invoke(null)', async () => {
    const g = counter(createMemoryAdapter(), 3, { interruptBefore: ['increment'] })
    const first = await g.invoke({ count: 0 }, { threadId: 'b' })
    expect(first).toEqual({ count: 0 })
    expect(first.__interrupt__).toEqual([expect.objectContaining({ node: 'increment', when: 'before' })])
    const state = await g.getState({ threadId: 'b' })
    expect(state.next).toEqual(['increment'])
    expect(state.interrupts).toHaveLength(1)
    expect(await g.invoke(null, { threadId: 'b' })).toEqual({ count: 1 })
    expect(await g.invoke(null, { threadId: 'b' })).toEqual({ count: 2 })
    const last = await g.invoke(null, { threadId: 'b' })
    expect(last).toEqual({ count: 3 })
    expect(last.__interrupt__).toBeUndefined()
  })

  it('stops after a node, and lets a human edit state before continuing', async () => {
    const g = new StateGraph({ text: { default: () => '' } })
      .addNode('write', () => ({ text: 'draft' }))
      .addNode('publish', (s) => ({ text: `published: ${s.text}` }))
      .addEdge(START, 'write')
      .addEdge('write', 'publish')
      .addEdge('publish', END)
      .compile({ checkpointer: createMemoryAdapter(), interruptAfter: ['write'] })
    const paused = await g.invoke({}, { threadId: 'a' })
    expect(paused.__interrupt__?.[0]).toMatchObject({ node: 'write', when: 'after' })
    await g.updateState({ threadId: 'a' }, { text: 'edited draft' })
    expect(await g.invoke(null, { threadId: 'a' })).toEqual({ text: 'published: edited draft' })
    const sources = (await collect(g.getStateHistory({ threadId: 'a' }))).map((s) => s.metadata.source)
    expect(sources).toEqual(['loop', 'update', 'loop', 'input'])
  })
})

describe('interrupt() without a checkpointer', () => {
  it('fails with a clear error instead of returning an interrupt that can never be resumed', async () => {
    const g = new StateGraph({ answer: { default: () => '' } })
      .addNode('ask', (_s, ctx) => ({ answer: ctx.interrupt<string>('name?') }))
      .addEdge(START, 'ask')
      .compile()
    const err = await rejectsWith(g.invoke({}), 'INVALID_ARGUMENT')
    expect(err.message).toContain('Node "ask" called interrupt(), which needs a checkpointer')
    expect(err.context.node).toBe('ask')
  })
})

describe('resuming as LangGraph.js does', () => {
  const parallelAsks = (store = createMemoryAdapter()) =>
    new StateGraph({ log: appendList })
      .addNode('p', (_s, ctx) => ({ log: [`p:${ctx.interrupt<string>('p?')}`] }))
      .addNode('q', (_s, ctx) => ({ log: [`q:${ctx.interrupt<string>('q?')}`] }))
      .addEdge(START, 'p')
      .addEdge(START, 'q')
      .compile({ checkpointer: store })

  it('one resume value answers every pending interrupt; a map by id answers each its own', async () => {
    const g = parallelAsks()
    expect((await g.invoke({}, { threadId: 'one' })).__interrupt__?.map((i) => i.value)).toEqual(['p?', 'q?'])
    expect(await g.invoke(new Command({ resume: 'X' }), { threadId: 'one' })).toEqual({ log: ['p:X', 'q:X'] })
    const first = await g.invoke({}, { threadId: 'map' })
    const [p, q] = first.__interrupt__ ?? []
    expect(await g.invoke(new Command({ resume: { [p?.id as string]: 'P', [q?.id as string]: 'Q' } }), { threadId: 'map' })).toEqual({ log: ['p:P', 'q:Q'] })
  })

  it('Command({ resume, update }): the resumed node sees the update, which is stored with the waiting checkpoint', async () => {
    const store = createMemoryAdapter()
    let broken = true
    const g = new StateGraph({ log: appendList })
      .addNode('p', (s, ctx) => {
        const v = ctx.interrupt<string>('p?')
        if (broken) throw new Error('flaky')
        return { log: [`p:${v} saw ${s.log.join('|')}`] }
      })
      .addNode('after', (s) => ({ log: [`after saw ${s.log.join('|')}`] }))
      .addEdge(START, 'p')
      .addEdge('p', 'after')
      .compile({ checkpointer: store })
    await g.invoke({ log: ['in'] }, { threadId: 'u' })
    // The resumed node fails: the update must not be lost with it.
    await rejectsWith(g.invoke(new Command({ resume: 'R', update: { log: ['u'] } }), { threadId: 'u' }), 'NODE_FAILED')
    expect((await g.getState({ threadId: 'u' })).values).toEqual({ log: ['in', 'u'] })
    broken = false
    // Same result as LangGraph.js 1.7.3 on this graph.
    expect(await g.invoke(null, { threadId: 'u' })).toEqual({ log: ['in', 'u', 'p:R saw in|u', 'after saw in|u|p:R saw in|u'] })
    // Deliberate difference: once the step is stored the update lives in its checkpoint, and the waiting checkpoint's
    // pending writes are folded away (LangGraph.js keeps them, so its history shows the update there too).
    const history = await collect(g.getStateHistory({ threadId: 'u' }))
    expect(history.map((h) => h.values.log)).toEqual([
      ['in', 'u', 'p:R saw in|u', 'after saw in|u|p:R saw in|u'],
      ['in', 'u', 'p:R saw in|u'],
      ['in'],
    ])
    expect((await collect(store.scan('u'))).filter(([k]) => k.startsWith('w/'))).toEqual([])
  })
})

