/**
 * ctx.effect (issue 13): a side effect's result is stored before the node goes on, so a retry of the step (after a
 * sibling's failure, the node's own failure, an interrupt, a crash) returns it instead of running the effect again;
 * its idempotency key is the same on every attempt. The crash matrix here crashes a short run before and after each
 * of its adapter calls and counts, per idempotency key, how often the outside world was called.
 */
import { describe, expect, it } from 'vitest'
import { Command, END, Send, START, StateGraph, isEdgegraphError, type Durability } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import type { StorageAdapter } from '../src/checkpoint/adapter.js'
import { History } from '../src/checkpoint/history.js'
import { pruneHistory } from '../src/checkpoint/retention.js'
import { createSync } from '../src/sync/index.js'
import { crashing } from './crash/faults.js'
import { orphans } from './crash/script.js'
import { appendList, over, rejectsWith } from './helpers.js'

/** The outside world: an API that counts calls per idempotency key (two calls with one key are what a double charge would be). */
function outside() {
  const calls = new Map<string, number>()
  const keysOf = new Map<string, Set<string>>()
  return {
    calls,
    keysOf,
    call({ idempotencyKey }: { idempotencyKey: string }, what: string): string {
      calls.set(idempotencyKey, (calls.get(idempotencyKey) ?? 0) + 1)
      keysOf.set(what, (keysOf.get(what) ?? new Set()).add(idempotencyKey))
      return `${what} done`
    },
    total: () => [...calls.values()].reduce((a, b) => a + b, 0),
  }
}

/** Keys of the thread's pending range (`w/...`) left in a store. */
async function pendingKeys(store: StorageAdapter, thread: string): Promise<string[]> {
  const keys: string[] = []
  for await (const [key] of store.scan(thread, { from: 'w/', to: 'w0' })) keys.push(key)
  return keys
}

describe('ctx.effect: a retried step does not run an effect again', () => {
  it('a sibling task fails: the retried step does not run the effect again, neither does the resume after it', async () => {
    const api = outside()
    let failed = false
    const store = createMemoryAdapter()
    const g = new StateGraph({ log: appendList })
      // Asks a human after its effect, so it is unfinished too when its sibling fails, and runs again with the step.
      .addNode('pay', async (_s, ctx) => {
        const receipt = await ctx.effect('charge', (e) => api.call(e, 'charge'))
        return { log: [receipt, ctx.interrupt<string>('send the receipt?')] }
      })
      .addNode('flaky', () => {
        if (!failed) throw ((failed = true), new Error('flaky once'))
        return { log: ['flaky'] }
      })
      .addEdge(START, 'pay')
      .addEdge(START, 'flaky')
      .compile({ checkpointer: store })
    await rejectsWith(g.invoke({ log: ['in'] }, { threadId: 's' }), 'NODE_FAILED')
    expect(api.total()).toBe(1)
    expect((await g.invoke(null, { threadId: 's' })).__interrupt__?.[0]?.value).toBe('send the receipt?')
    expect(api.total()).toBe(1)
    expect((await g.invoke(new Command({ resume: 'sent' }), { threadId: 's' })).log).toEqual(['in', 'flaky', 'charge done', 'sent'])
    expect(api.total()).toBe(1)
    expect(await pendingKeys(store, 's')).toEqual([])
  })

  it('the node itself fails after its effect: invoke(null) and retryPolicy both get the recorded result back', async () => {
    for (const retried of ['invoke(null)', 'retryPolicy'] as const) {
      const api = outside()
      let attempts = 0
      const store = createMemoryAdapter()
      const g = new StateGraph({ log: appendList })
        .addNode(
          'pay',
          async (_s, ctx) => {
            const receipt = await ctx.effect('charge', (e) => ({ text: api.call(e, 'charge'), at: new Date(0), attempt: attempts }))
            if (attempts++ === 0) throw new Error('the mail server is down')
            // A replayed result reads back as stored: the first attempt's, with its Date.
            expect(receipt.at).toBeInstanceOf(Date)
            return { log: [`${receipt.text} in attempt ${receipt.attempt}`] }
          },
          retried === 'retryPolicy' ? { retryPolicy: { initialInterval: 0, jitter: false } } : {},
        )
        .addEdge(START, 'pay')
        .compile({ checkpointer: store })
      if (retried === 'invoke(null)') {
        await rejectsWith(g.invoke({ log: [] }, { threadId: 'f' }), 'NODE_FAILED')
        expect((await g.getState({ threadId: 'f' })).tasks[0]?.error?.message).toBe('the mail server is down')
      }
      const done = retried === 'retryPolicy' ? await g.invoke({ log: [] }, { threadId: 'f' }) : await g.invoke(null, { threadId: 'f' })
      expect(done.log, retried).toEqual(['charge done in attempt 0'])
      expect(api.total(), retried).toBe(1)
      expect(await pendingKeys(store, 'f')).toEqual([])
    }
  })

  it('an interrupt later in the node: the resumed node gets the result back; effects after the interrupt run once', async () => {
    const api = outside()
    const store = createMemoryAdapter()
    const g = new StateGraph({ log: appendList })
      .addNode('order', async (_s, ctx) => {
        const held = await ctx.effect('reserve', (e) => api.call(e, 'reserve'))
        const ok = ctx.interrupt<string>('ship it?')
        const sent = await ctx.effect('ship', (e) => api.call(e, `ship ${ok}`))
        return { log: [held, sent] }
      })
      .addEdge(START, 'order')
      .compile({ checkpointer: store })
    const first = await g.invoke({ log: [] }, { threadId: 'i' })
    expect(first.__interrupt__?.[0]?.value).toBe('ship it?')
    expect([...api.calls.values()]).toEqual([1])
    // The result is stored with the step it belongs to, next to the interrupt's record.
    const at = (await g.getState({ threadId: 'i' })).config.checkpointId
    expect(await pendingKeys(store, 'i')).toEqual([`w/${at}/000`])
    expect((await g.invoke(new Command({ resume: 'yes' }), { threadId: 'i' })).log).toEqual(['reserve done', 'ship yes done'])
    expect([...api.keysOf.keys()]).toEqual(['reserve', 'ship yes'])
    expect([...api.calls.values()]).toEqual([1, 1])
    // Folded when the step commits: nothing of it is left.
    expect(await pendingKeys(store, 'i')).toEqual([])
    expect(await orphans(store, 'i')).toEqual([])
  })

  it('a node whose effects run inside a subgraph with checkpoints of its own: resumed, the subgraph does not run them again', async () => {
    const api = outside()
    const inner = new StateGraph({ log: appendList })
      .addNode('order', async (_s, ctx) => {
        const held = await ctx.effect('reserve', (e) => api.call(e, 'reserve'))
        return { log: [held, ctx.interrupt<string>('ok?')] }
      })
      .addEdge(START, 'order')
      .compile()
    const g = new StateGraph({ log: appendList }).addNode('shop', inner).addEdge(START, 'shop').compile({ checkpointer: createMemoryAdapter() })
    await g.invoke({ log: [] }, { threadId: 'sub' })
    expect((await g.invoke(new Command({ resume: 'fine' }), { threadId: 'sub' })).log).toEqual(['reserve done', 'fine'])
    expect(api.total()).toBe(1)
  })
})

describe('ctx.effect: the idempotency key', () => {
  it('is `<thread>:<checkpoint the step runs after>:<task>:<name>`, and an effect that threw is called again with the same key', async () => {
    const keys: string[] = []
    const g = new StateGraph({ log: appendList })
      .addNode('pay', async (_s, ctx) => ({
        log: [
          await ctx.effect('charge', ({ idempotencyKey }) => {
            keys.push(idempotencyKey)
            if (keys.length === 1) throw new Error('timeout')
            return 'charged'
          }),
        ],
      }))
      .addEdge(START, 'pay')
      .compile({ checkpointer: createMemoryAdapter() })
    await rejectsWith(g.invoke({ log: [] }, { threadId: 'key' }), 'NODE_FAILED')
    const at = (await g.getState({ threadId: 'key' })).config.checkpointId
    expect(keys).toEqual([`key:${at}:0:charge`])
    // Nothing was recorded (fn threw): the retry calls it again, with the same key, for the API to deduplicate.
    expect((await g.invoke(null, { threadId: 'key' })).log).toEqual(['charged'])
    expect(keys).toEqual([`key:${at}:0:charge`, `key:${at}:0:charge`])
  })

  it('a replay from an older checkpoint runs the effects of its committed step again, with the same keys', async () => {
    const keys: string[] = []
    const g = new StateGraph({ log: appendList })
      .addNode('pay', async (_s, ctx) => ({ log: [await ctx.effect('charge', ({ idempotencyKey }) => (keys.push(idempotencyKey), 'charged'))] }))
      .addEdge(START, 'pay')
      .compile({ checkpointer: createMemoryAdapter() })
    await g.invoke({ log: [] }, { threadId: 'replay' })
    const input = (await g.getState({ threadId: 'replay' })).parentConfig?.checkpointId as string
    await g.invoke(null, { threadId: 'replay', checkpointId: input })
    expect(keys).toEqual([`replay:${input}:0:charge`, `replay:${input}:0:charge`])
  })

  it('parallel Send tasks each get their own keys, and each keeps its own results', async () => {
    const keys: string[] = []
    let failed = false
    const store = createMemoryAdapter()
    const g = new StateGraph({ log: appendList })
      .addNode('work', async (input, ctx) => {
        const { i } = input as unknown as { i: number }
        const got = await ctx.effect('charge', ({ idempotencyKey }) => (keys.push(idempotencyKey), `charge ${i}`))
        if (i === 2 && !failed) throw ((failed = true), new Error('task 2 fails once'))
        return { log: [got] }
      })
      .addConditionalEdges(START, () => [0, 1, 2].map((i) => new Send('work', { i })), ['work'])
      .compile({ checkpointer: store })
    await rejectsWith(g.invoke({ log: [] }, { threadId: 'send' }), 'NODE_FAILED')
    const at = (await g.getState({ threadId: 'send' })).config.checkpointId
    expect(keys).toEqual([0, 1, 2].map((i) => `send:${at}:${i}:charge`))
    expect(await pendingKeys(store, 'send')).toEqual([0, 1, 2].map((i) => `w/${at}/00${i}`))
    expect((await g.invoke(null, { threadId: 'send' })).log).toEqual(['charge 0', 'charge 1', 'charge 2'])
    expect(keys).toHaveLength(3)
  })

  it('one name twice in one call of a node is INVALID_ARGUMENT; the second is not run', async () => {
    let runs = 0
    const g = new StateGraph({ log: appendList })
      .addNode('pay', async (_s, ctx) => {
        await ctx.effect('charge', () => runs++)
        await ctx.effect('charge', () => runs++)
        return {}
      })
      .addEdge(START, 'pay')
      .compile({ checkpointer: createMemoryAdapter() })
    const err = await rejectsWith(g.invoke({ log: [] }, { threadId: 'twice' }), 'INVALID_ARGUMENT')
    expect(err.message).toBe('effect("charge") in node "pay" called twice: give each effect of a node its own name')
    expect(runs).toBe(1)
  })
})

describe('ctx.effect refuses what it cannot keep', () => {
  const paying = (calls: { n: number }, result: () => unknown = () => 'ok') =>
    new StateGraph({ log: appendList }).addNode('pay', async (_s, ctx) => (await ctx.effect('charge', () => (calls.n++, result())), {})).addEdge(START, 'pay')

  it('a result the serde cannot store is UNSERIALIZABLE, naming the node and the effect', async () => {
    const calls = { n: 0 }
    const g = paying(calls, () => ({ retry: () => 1 })).compile({ checkpointer: createMemoryAdapter() })
    const err = await rejectsWith(g.invoke({ log: [] }, { threadId: 'u' }), 'UNSERIALIZABLE')
    expect(err.message).toMatch(/^effect\("charge"\) in node "pay" returned a result that cannot be stored: .*a function at effect\(charge\)\.retry/)
    expect(err.context.node).toBe('pay')
    expect(calls.n).toBe(1)
  })

  it('without a checkpointer: INVALID_ARGUMENT, before the effect runs (also from inside a subgraph)', async () => {
    const calls = { n: 0 }
    const err = await rejectsWith(paying(calls).compile().invoke({ log: [] }), 'INVALID_ARGUMENT')
    expect(err.message).toBe('effect("charge") in node "pay" needs a checkpointer: compile({ checkpointer }), and a threadId')
    const parent = new StateGraph({ log: appendList }).addNode('sub', paying(calls).compile()).addEdge(START, 'sub').compile()
    expect((await rejectsWith(parent.invoke({ log: [] }), 'INVALID_ARGUMENT')).message).toMatch(/needs a checkpointer/)
    expect(calls.n).toBe(0)
  })

  it("with durability 'exit' (compiled or per run) or checkpointEvery: INVALID_ARGUMENT, before the effect runs", async () => {
    const calls = { n: 0 }
    const cases: [string, () => Promise<unknown>][] = [
      ['compile exit', () => paying(calls).compile({ checkpointer: createMemoryAdapter(), durability: 'exit' }).invoke({ log: [] }, { threadId: 'x' })],
      ['run exit', () => paying(calls).compile({ checkpointer: createMemoryAdapter() }).invoke({ log: [] }, { threadId: 'x', durability: 'exit' })],
      ['checkpointEvery', () => paying(calls).compile({ checkpointer: createMemoryAdapter(), checkpointEvery: 2 }).invoke({ log: [] }, { threadId: 'x' })],
    ]
    for (const [name, run] of cases) {
      const err = await rejectsWith(run(), 'INVALID_ARGUMENT')
      expect(err.message, name).toBe(`effect("charge") in node "pay" needs every step's checkpoint stored: use durability 'sync' or 'async', not 'exit' or checkpointEvery`)
      expect(err.context.node, name).toBe('pay')
    }
    expect(calls.n).toBe(0)
  })
})

describe('recorded effects and the rest of the history layer', () => {
  /** Records an effect, then asks a human. */
  const ordering = (store: StorageAdapter, api: ReturnType<typeof outside>) =>
    new StateGraph({ log: appendList })
      .addNode('order', async (_s, ctx) => {
        const held = await ctx.effect('reserve', (e) => api.call(e, 'reserve'))
        return { log: [held, ctx.interrupt<string>('ok?')] }
      })
      .addEdge(START, 'order')
      .compile({ checkpointer: store })

  it('a result too large for one value is stored in chunks, and no chunk is left once the step commits', async () => {
    const api = outside()
    let failed = false
    const store = createMemoryAdapter({ maxValueBytes: 256 })
    const g = new StateGraph({ log: appendList })
      // Its record holds a large result while it runs, then only its small writes once it finished (its sibling failed).
      .addNode('fetch', async (_s, ctx) => ((await ctx.effect('download', (e) => `${api.call(e, 'download')} ${'x'.repeat(2000)}`)), { log: ['fetched'] }))
      .addNode('flaky', () => {
        if (!failed) throw ((failed = true), new Error('flaky once'))
        return { log: ['flaky'] }
      })
      .addEdge(START, 'fetch')
      .addEdge(START, 'flaky')
      .compile({ checkpointer: store })
    await rejectsWith(g.invoke({ log: [] }, { threadId: 'big' }), 'NODE_FAILED')
    expect((await g.invoke(null, { threadId: 'big' })).log).toEqual(['fetched', 'flaky'])
    expect(api.total()).toBe(1)
    expect(await pendingKeys(store, 'big')).toEqual([])
    const left: string[] = []
    for await (const [key] of store.scan('big', { from: 'k/', to: 'k0' })) left.push(key)
    expect(left).toEqual([])
  })

  it('retention keeps the checkpoint whose step holds recorded effects; the resume still reuses them', async () => {
    const api = outside()
    const store = createMemoryAdapter()
    const g = ordering(store, api)
    await g.invoke({ log: ['a'] }, { threadId: 'r' })
    await g.invoke(new Command({ resume: 'one' }), { threadId: 'r' })
    await g.invoke({ log: ['b'] }, { threadId: 'r' })
    expect((await pruneHistory(store, 'r', { keepLast: 1 })).deleted).toBeGreaterThan(0)
    expect((await g.invoke(new Command({ resume: 'two' }), { threadId: 'r' })).log).toEqual(['a', 'reserve done', 'one', 'b', 'reserve done', 'two'])
    expect([...api.calls.values()]).toEqual([1, 1])
    expect(await pendingKeys(store, 'r')).toEqual([])
  })

  it('sync carries them with the step they belong to: another device resuming the step does not run the effect again', async () => {
    const api = outside()
    const [a, b, remote] = [createMemoryAdapter(), createMemoryAdapter(), createMemoryAdapter()]
    await ordering(a, api).invoke({ log: [] }, { threadId: 't' })
    await createSync({ local: a, remote }).syncThread('t')
    await createSync({ local: b, remote }).syncThread('t')
    expect((await ordering(b, api).invoke(new Command({ resume: 'from b' }), { threadId: 't' })).log).toEqual(['reserve done', 'from b'])
    expect(api.total()).toBe(1)
    // Back on the first device, the finished step folds the records there too.
    await createSync({ local: b, remote }).syncThread('t')
    await createSync({ local: a, remote }).syncThread('t')
    expect((await ordering(a, api).getState({ threadId: 't' })).values.log).toEqual(['reserve done', 'from b'])
    for (const store of [a, b, remote]) expect(await pendingKeys(store, 't')).toEqual([])
  })
})

describe('ctx.effect across crashes', () => {
  const T = 'fx'

  /** Notifies, charges in two parallel Send tasks, reserves, asks a human, ships: five effects. */
  const shop = (store: StorageAdapter, durability: Durability, api: ReturnType<typeof outside>) =>
    new StateGraph({ log: appendList })
      .addNode('plan', async (_s, ctx) => ({ log: [await ctx.effect('notify', (e) => api.call(e, 'notify'))] }))
      .addNode('work', async (input, ctx) => {
        const { i } = input as unknown as { i: number }
        return { log: [await ctx.effect('charge', (e) => api.call(e, `charge ${i}`))] }
      })
      .addNode('review', async (_s, ctx) => {
        // A result larger than the store's values: its record is stored in chunks.
        const held = await ctx.effect('reserve', (e) => ({ text: api.call(e, 'reserve'), terms: 'x'.repeat(1500) }))
        const ok = ctx.interrupt<string>('ship?')
        return { log: [held.text, await ctx.effect('ship', (e) => api.call(e, `ship ${ok}`))] }
      })
      .addEdge(START, 'plan')
      .addConditionalEdges('plan', () => [0, 1].map((i) => new Send('work', { i })), ['work'])
      .addEdge('work', 'review')
      .addEdge('review', END)
      .compile({ checkpointer: store, durability })

  /**
   * A store whose commits land a while after they are made, as real I/O does (a memory store's land at once): with
   * async durability the next step then runs while its checkpoint's commit is still on its way. Deterministic: it
   * waits out a number of microtask turns, not time.
   */
  const slow = (inner: StorageAdapter): StorageAdapter =>
    over(inner, {
      commit: async (t, b, g) => {
        for (let i = 0; i < 100; i++) await undefined
        return inner.commit(t, b, g)
      },
    })

  /** What a process does with the thread, from wherever it stands: start it, answer it, continue it, until it is done. */
  async function drive(g: ReturnType<typeof shop>): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const s = await g.getState({ threadId: T }).catch((err: unknown) => (isEdgegraphError(err, 'THREAD_NOT_FOUND') ? undefined : Promise.reject(err)))
      if (!s) await g.invoke({ log: ['order'] }, { threadId: T })
      else if (s.interrupts.length > 0) await g.invoke(new Command({ resume: 'yes' }), { threadId: T })
      else if (s.next.length > 0) await g.invoke(null, { threadId: T })
      else return
    }
    throw new Error('the thread did not finish')
  }

  /** The effects whose result the store holds: recorded on their unfinished step, or folded into a step that committed. */
  async function stored(store: StorageAdapter): Promise<{ recorded: Set<string>; has: (key: string) => boolean }> {
    const all = await new History(store).list(T)
    const committed = new Set(all.filter((c) => c.source === 'loop').map((c) => c.parentId))
    const recorded = new Set(all.flatMap((c) => c.pending.flatMap((p) => (p.effects ?? []).map(([name]) => `${T}:${c.id}:${p.index}:${name}`))))
    return { recorded, has: (key) => recorded.has(key) || committed.has(key.split(':')[1]) }
  }

  const done = ['order', 'notify done', 'charge 0 done', 'charge 1 done', 'reserve done', 'ship yes done']
  const effects = ['notify', 'charge 0', 'charge 1', 'reserve', 'ship yes']

  for (const durability of ['sync', 'async'] as const) {
    it(`crashed before and after every adapter call (durability ${durability}): an effect whose result was stored never runs again, each lands once`, async () => {
      const api = outside()
      const counter = crashing(createMemoryAdapter({ maxValueBytes: 512 }), Number.POSITIVE_INFINITY, 'before')
      await drive(shop(slow(counter.adapter), durability, api))
      expect([...api.keysOf.keys()]).toEqual(effects)
      expect([...api.calls.values()]).toEqual([1, 1, 1, 1, 1])
      const points = counter.calls()
      let tested = 0
      let replayed = 0
      let rerun = 0
      for (let at = 0; at < points; at++) {
        for (const when of ['before', 'after'] as const) {
          const where = `crash ${when} call ${at}`
          const api = outside()
          const store = createMemoryAdapter({ maxValueBytes: 512 })
          const crash = crashing(store, at, when)
          await drive(shop(slow(crash.adapter), durability, api)).catch((err: unknown) => {
            if (!crash.crashed()) throw err
          })
          expect(crash.crashed(), where).toBe(true)
          const before = new Map(api.calls)
          const kept = await stored(store)
          // Results recorded on a step that did not commit: the fresh process runs that step again and must reuse them.
          if (kept.recorded.size > 0) replayed++
          // A fresh process on what survived goes on until the thread is done.
          await drive(shop(store, durability, api))
          expect((await shop(store, durability, api).getState({ threadId: T })).values.log, where).toEqual(done)
          for (const [key, n] of api.calls) {
            // Stored before the crash: never run again. Cut off in flight: run again, with the same key, once.
            if (kept.has(key)) expect(n, `${where}: ${key} ran again though its result was stored`).toBe(1)
            else expect(n <= (before.has(key) ? 2 : 1), `${where}: ${key} ran ${n} times`).toBe(true)
            if (n === 2) rerun++
          }
          // Every effect got one key, however many processes worked on its step: the outside world applies each once.
          expect([...api.keysOf.keys()].sort(), where).toEqual([...effects].sort())
          for (const [what, keys] of api.keysOf) expect(keys.size, `${where}: ${what} got ${keys.size} keys`).toBe(1)
          expect(await pendingKeys(store, T), where).toEqual([])
          expect(await orphans(store, T), where).toEqual([])
          tested++
        }
      }
      expect(tested).toBe(points * 2)
      // Both cases happened: stored results replayed to a step run again, and an effect cut off in flight run again.
      expect(replayed).toBeGreaterThan(0)
      expect(rerun).toBeGreaterThan(0)
      console.info(`effects crash matrix, durability ${durability}: ${tested} crash points; ${replayed} replayed stored results, ${rerun} effects cut off in flight ran again`)
    }, 120_000)
  }
})
