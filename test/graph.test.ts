/** Building graphs: channels, schemas, compile-time validation. */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { END, START, StateGraph, isEdgegraphError } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { collect, counter } from './helpers.js'

function compileError(build: () => unknown): string {
  try {
    build()
  } catch (err) {
    expect(isEdgegraphError(err, 'INVALID_GRAPH')).toBe(true)
    return (err as Error).message
  }
  throw new Error('compile did not fail')
}

describe('compile', () => {
  it('runs the README counter', async () => {
    expect(await counter().invoke({ count: 0 }, { threadId: 't' })).toEqual({ count: 5 })
  })

  it('rejects an edge to an unknown node, naming it', () => {
    const msg = compileError(() =>
      new StateGraph({ x: {} }).addNode('a', () => ({})).addEdge(START, 'a').addEdge('a', 'b' as 'a').compile(),
    )
    expect(msg).toContain('unknown node "b"')
  })

  it('rejects an edge out of END or into START (JavaScript callers), naming them', () => {
    const build = () => new StateGraph({ x: {} }).addNode('a', () => ({})).addEdge(START, 'a').addEdge('a', END)
    expect(compileError(() => build().addEdge(END as never, 'a').compile())).toContain('an edge starts at unknown node "__end__"')
    expect(compileError(() => build().addEdge('a', START as never).compile())).toContain('an edge from "a" goes to unknown node "__start__"')
  })

  it('rejects a duplicate node name', () => {
    const msg = compileError(() => new StateGraph({ x: {} }).addNode('a', () => ({})).addNode('a', () => ({})).addEdge(START, 'a').compile())
    expect(msg).toContain('node "a" is added twice')
  })

  it('rejects a graph whose END is unreachable', () => {
    const msg = compileError(() =>
      new StateGraph({ x: {} }).addNode('a', () => ({})).addNode('b', () => ({})).addEdge(START, 'a').addEdge('a', 'b').addEdge('b', 'a').compile(),
    )
    expect(msg).toContain('END is unreachable')
  })

  it('rejects a graph with no entry point and a node nothing reaches', () => {
    expect(compileError(() => new StateGraph({ x: {} }).addNode('a', () => ({})).compile())).toContain('nothing starts the graph')
    const msg = compileError(() => new StateGraph({ x: {} }).addNode('a', () => ({})).addNode('lonely', () => ({})).addEdge(START, 'a').addEdge('a', END).compile())
    expect(msg).toContain('node "lonely" is unreachable')
  })

  it('rejects unknown nodes in path maps and interrupt lists, and reserved names', () => {
    const msg = compileError(() =>
      new StateGraph({ x: {} })
        .addNode('a', () => ({}))
        .addNode('__bad', () => ({}))
        .addEdge(START, 'a')
        .addConditionalEdges('a', () => 'go', { go: 'nowhere' as 'a', stop: END })
        .compile({ interruptBefore: ['ghost' as 'a'] }),
    )
    expect(msg).toContain('maps to unknown node "nowhere"')
    expect(msg).toContain('interruptBefore names unknown node "ghost"')
    expect(msg).toContain('reserved')
  })

  it('accepts routing decided at run time (conditional edge without a path map)', () => {
    const g = new StateGraph({ x: { default: () => 0 } })
      .addNode('a', (s) => ({ x: s.x + 1 }))
      .addNode('b', (s) => ({ x: s.x + 10 }))
      .addEdge(START, 'a')
      .addConditionalEdges('a', (s) => (s.x > 1 ? END : 'b'))
      .addEdge('b', 'a')
      .compile()
    return expect(g.invoke({})).resolves.toEqual({ x: 12 })
  })
})

describe('state channels', () => {
  it('applies reducers and defaults, and replaces values without a reducer', async () => {
    const g = new StateGraph({
      log: { default: (): string[] => [], reducer: (a: string[], b: string[]) => [...a, ...b] },
      last: { default: () => '' },
    })
      .addNode('a', () => ({ log: ['a'], last: 'a' }))
      .addNode('b', () => ({ log: ['b'], last: 'b' }))
      .addEdge(START, 'a')
      .addEdge('a', 'b')
      .addEdge('b', END)
      .compile()
    expect(await g.invoke({ log: ['in'] })).toEqual({ log: ['in', 'a', 'b'], last: 'b' })
  })

  it('validates state with a whole-state Standard Schema (zod 4)', async () => {
    const schema = z.object({ count: z.number().int().max(3), label: z.string().default('none') })
    const g = new StateGraph(schema)
      .addNode('inc', (s) => ({ count: s.count + 1 }))
      .addEdge(START, 'inc')
      .addConditionalEdges('inc', (s) => (s.count >= 3 ? END : 'inc'))
      .compile({ checkpointer: createMemoryAdapter() })
    expect(await g.invoke({ count: 0 }, { threadId: 'ok' })).toEqual({ count: 3, label: 'none' })
    const tooFar = new StateGraph(schema)
      .addNode('inc', (s) => ({ count: s.count + 2 }))
      .addEdge(START, 'inc')
      .addConditionalEdges('inc', (s) => (s.count >= 4 ? END : 'inc'))
      .compile({ checkpointer: createMemoryAdapter() })
    await expect(tooFar.invoke({ count: 0 }, { threadId: 'bad' })).rejects.toThrow(/count: .*3/)
  })

  it('gives fields of a Standard Schema state reducers and defaults (the zod registry reducer in LangGraph.js)', async () => {
    const schema = z.object({ log: z.array(z.string()), turns: z.number() })
    const g = new StateGraph(schema, { channels: { log: { reducer: (a: string[], b: string[]) => [...a, ...b], default: () => [] } } })
      .addNode('a', () => ({ log: ['a'] }))
      .addNode('b', () => ({ log: ['b'] }))
      .addEdge(START, 'a')
      .addEdge(START, 'b')
      .compile({ checkpointer: createMemoryAdapter() })
    // Both parallel writes land through the reducer (without it, two writers of one field would be an error).
    expect(await g.invoke({ turns: 1 }, { threadId: 'z' })).toEqual({ log: ['a', 'b'], turns: 1 })
    expect((await g.invoke({ turns: 2, log: ['more'] }, { threadId: 'z' })).log).toEqual(['a', 'b', 'more', 'a', 'b'])
    // The schema still validates the whole state after every write.
    const bad = new StateGraph(schema, { channels: { log: { reducer: (a: string[], b: string[]) => [...a, ...b], default: () => [] } } })
      .addNode('a', () => ({ log: [1 as unknown as string] }))
      .addEdge(START, 'a')
      .compile()
    await expect(bad.invoke({ turns: 0 })).rejects.toThrow(/log/)
    expect(() => new StateGraph({ log: {} }, { channels: {} } as never)).toThrow(/channels must be an object of channel specs, for a Standard Schema state/)
  })

  it('validates a channel with its own schema', async () => {
    const g = new StateGraph({ email: { schema: z.email(), default: () => 'a@b.co' } })
      .addNode('set', () => ({ email: 'not an email' }))
      .addEdge(START, 'set')
      .compile()
    const err = await g.invoke({}).catch((e: unknown) => e)
    expect(isEdgegraphError(err, 'INVALID_UPDATE')).toBe(true)
    expect((err as Error).message).toContain('channel "email"')
  })

  it('rejects a write to an unknown channel at run time, naming node and channel', async () => {
    const g = new StateGraph({ x: { default: () => 0 } })
      .addNode('a', () => ({ y: 1 }) as never)
      .addEdge(START, 'a')
      .compile()
    const err = await g.invoke({}).catch((e: unknown) => e)
    expect(isEdgegraphError(err, 'INVALID_UPDATE')).toBe(true)
    expect((err as Error).message).toMatch(/Node "a" wrote unknown channel "y"/)
  })

  it('rejects two writers of a channel without a reducer in one step', async () => {
    const g = new StateGraph({ x: { default: () => 0 } })
      .addNode('a', () => ({ x: 1 }))
      .addNode('b', () => ({ x: 2 }))
      .addEdge(START, 'a')
      .addEdge(START, 'b')
      .compile()
    const err = await g.invoke({}).catch((e: unknown) => e)
    expect(isEdgegraphError(err, 'INVALID_UPDATE')).toBe(true)
    expect((err as Error).message).toContain('both wrote channel "x"')
  })
})

describe('mutation guard', () => {
  it('rejects a reducer that grows its current value in place, before anything is stored', async () => {
    const store = createMemoryAdapter()
    const g = new StateGraph({ log: { default: (): string[] => [], reducer: (a: string[], b: string[]) => (a.push(...b), a) } })
      .addNode('a', () => ({ log: ['x'] }))
      .addEdge(START, 'a')
      .compile({ checkpointer: store })
    const err = await g.invoke({}, { threadId: 'm' }).catch((e: unknown) => e)
    expect(isEdgegraphError(err, 'INVALID_UPDATE')).toBe(true)
    expect((err as Error).message).toContain('Channel "log" of thread "m" was changed in place')
    expect((await collect(g.getStateHistory({ threadId: 'm' }))).map((s) => s.values)).toEqual([{ log: [] }])
  })

  it('rejects a node that mutates state and returns it, also on a thread loaded from storage', async () => {
    const store = createMemoryAdapter()
    const build = (mutate: boolean) =>
      new StateGraph({ doc: { default: (): Record<string, number> => ({}) } })
        .addNode('a', (s) => {
          if (!mutate) return { doc: { ...s.doc, first: 1 } }
          s.doc.second = 2
          return { doc: s.doc }
        })
        .addEdge(START, 'a')
        .compile({ checkpointer: store })
    await build(false).invoke({}, { threadId: 'n' })
    const [, input] = await collect(build(false).getStateHistory({ threadId: 'n' }))
    const err = await build(true).invoke(null, input?.config).catch((e: unknown) => e)
    expect(isEdgegraphError(err, 'INVALID_UPDATE')).toBe(true)
    expect((err as Error).message).toContain('Channel "doc"')
    expect((await build(false).getState({ threadId: 'n' })).values).toEqual({ doc: { first: 1 } })
  })

  it('accepts a reducer that returns its current value unchanged', async () => {
    const dedupe = (a: string[], b: string[]) => (b.every((x) => a.includes(x)) ? a : [...a, ...b.filter((x) => !a.includes(x))])
    const g = new StateGraph({ tags: { default: (): string[] => [], reducer: dedupe } })
      .addNode('a', () => ({ tags: ['x'] }))
      .addNode('b', () => ({ tags: ['x'] }))
      .addEdge(START, 'a')
      .addEdge('a', 'b')
      .compile({ checkpointer: createMemoryAdapter() })
    expect(await g.invoke({}, { threadId: 'd' })).toEqual({ tags: ['x'] })
  })
})
