/**
 * The crash matrix (issue 13, first part, in memory): a run with parallel tasks (Send), an interrupt, a node failure,
 * a fork and packs, crashed before and after every adapter call it makes, in each durability mode. After each crash a
 * fresh graph on the surviving store finds out where the thread stands (getState) and goes on; the end state and the
 * history must equal those of an uninterrupted run (with 'exit', the end state, and no checkpoint stored twice),
 * every step stored once, no chunk left behind. Not yet: the same in Chromium and workerd, side effects.
 */
import { describe, expect, it } from 'vitest'
import { Command, END, Send, START, StateGraph, isEdgegraphError, type Durability } from '../src/index.js'
import { createMemoryAdapter, type MemoryAdapter } from '../adapters/memory.js'
import type { StorageAdapter } from '../src/checkpoint/adapter.js'
import { appendList, rejectsWith } from './helpers.js'

/** What a killed process leaves: every call from the crash on fails. */
class Crash extends Error {
  override name = 'Crash'
}

/** Wraps `inner` so that call number `at` crashes before or after it reaches the store; counts calls. */
function crashing(inner: StorageAdapter, at: number, when: 'before' | 'after') {
  let calls = 0
  let dead = false
  const gate = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (dead) throw new Crash('the process is gone')
    const n = calls++
    if (n === at && when === 'before') {
      dead = true
      throw new Crash(`crash before call ${n}`)
    }
    const out = await fn()
    if (n === at && when === 'after') {
      dead = true
      throw new Crash(`crash after call ${n}`)
    }
    return out
  }
  const adapter: StorageAdapter = {
    name: inner.name,
    limits: inner.limits,
    get: (t, k) => gate(() => inner.get(t, k)),
    async *scan(t, r) {
      const entries: [string, Uint8Array][] = await gate(async () => {
        const out: [string, Uint8Array][] = []
        for await (const e of inner.scan(t, r)) out.push(e)
        return out
      })
      yield* entries
    },
    commit: (t, b, g) => gate(() => inner.commit(t, b, g)),
    deleteThread: (t) => gate(() => inner.deleteThread(t)),
    threads: (o) => inner.threads(o),
  }
  return { adapter, calls: () => calls, crashed: () => dead }
}

let failures = new Set<string>()

/** Fans out to three workers, joins, asks a human, then a flaky node fails once per thread. */
function graph(store: StorageAdapter, durability: Durability) {
  return new StateGraph({ log: appendList, items: { default: (): number[] => [] } })
    .addNode('plan', (s) => ({ log: [`plan ${s.log.length}`] }))
    .addNode('work', (input) => ({ log: [`work ${(input as unknown as { i: number }).i}`] }))
    .addNode('review', (_s, ctx) => ({ log: [`review ${ctx.interrupt<string>('ok?')}`] }))
    .addNode('flaky', (s, ctx) => {
      const key = `${ctx.threadId}:${s.log.length}`
      if (!failures.has(key)) {
        failures.add(key)
        throw new Error('flaky once')
      }
      return { log: ['flaky done'] }
    })
    .addEdge(START, 'plan')
    .addConditionalEdges('plan', () => [0, 1, 2].map((i) => new Send('work', { i })), ['work'])
    .addEdge('work', 'review')
    .addEdge('review', 'flaky')
    .addEdge('flaky', END)
    .compile({ checkpointer: { adapter: store, packSize: 3 }, durability })
}

type G = ReturnType<typeof graph>
const T = 'crash'

/** The script: a turn (to the interrupt), its answer (the flaky node fails once), continue, a fork, a second turn. */
const script: { name: string; run: (g: G) => Promise<unknown>; done: (g: G, before: string | undefined) => Promise<boolean> }[] = [
  { name: 'turn 1', run: (g) => g.invoke({ log: ['hi'] }, { threadId: T }), done: async (g) => (await state(g))?.interrupts.length === 1 },
  { name: 'answer', run: (g) => g.invoke(new Command({ resume: 'yes' }), { threadId: T }), done: async (g) => ((await state(g))?.values.log ?? []).includes('review yes') },
  {
    name: 'continue',
    // Continues until the run is done: the flaky node may fail here (once) if a crash kept it from failing before.
    run: async (g) => {
      for (let i = 0; ; i++) {
        try {
          return await g.invoke(null, { threadId: T })
        } catch (err) {
          if (i > 0 || !isEdgegraphError(err, 'NODE_FAILED')) throw err
        }
      }
    },
    done: async (g) => ((await state(g))?.next ?? ['x']).length === 0,
  },
  {
    name: 'fork',
    run: async (g) => {
      let plan: string | undefined
      for await (const s of g.getStateHistory({ threadId: T })) if ((s.metadata.writes as Record<string, unknown>)?.plan) plan = s.config.checkpointId
      return g.updateState({ threadId: T, checkpointId: plan as string }, { log: ['forked'] }, 'plan')
    },
    done: async (g, before) => (await state(g))?.config.checkpointId !== before,
  },
  { name: 'after fork', run: (g) => g.invoke(null, { threadId: T }), done: async (g) => (await state(g))?.interrupts.length === 1 },
]

const state = (g: G) => g.getState({ threadId: T }).catch((err: unknown) => (isEdgegraphError(err, 'THREAD_NOT_FOUND') ? undefined : Promise.reject(err)))

/** Runs the script on `store`, each operation once; NODE_FAILED is expected once and followed by the next step. */
async function play(makeGraph: () => G, from = 0): Promise<void> {
  for (let i = from; i < script.length; i++) {
    const op = script[i] as (typeof script)[number]
    try {
      await op.run(makeGraph())
    } catch (err) {
      if (!isEdgegraphError(err, 'NODE_FAILED')) throw err
    }
  }
}

/** A history as comparable data: no ids or times, each checkpoint by its step, source, values, next and parent's step. */
async function shape(store: StorageAdapter, durability: Durability) {
  const g = graph(store, durability)
  const all: { id: string; parent: string | undefined; step: number; source: string; values: unknown; next: string[] }[] = []
  for await (const s of g.getStateHistory({ threadId: T })) all.push({ id: s.config.checkpointId, parent: s.parentConfig?.checkpointId, step: s.metadata.step, source: s.metadata.source, values: s.values, next: s.next })
  const byId = new Map(all.map((c) => [c.id, c]))
  return all.map(({ id: _id, parent, ...rest }) => ({ ...rest, parentStep: parent === undefined ? undefined : byId.get(parent)?.step })).reverse()
}

/** Keys left in the store that no checkpoint reads: loose pending writes of finished steps, orphan chunks. */
async function orphans(store: MemoryAdapter): Promise<string[]> {
  const keys: string[] = []
  for await (const [key] of store.scan(T, {})) keys.push(key)
  return keys.filter((k) => k.startsWith('k/') && !keys.includes(k.slice(2, k.lastIndexOf('/'))))
}

describe('crash matrix', () => {
  for (const durability of ['sync', 'async', 'exit'] as const) {
    it(`crashes before and after every adapter call of the script (durability ${durability}); recovery ends where an uninterrupted run does`, async () => {
      failures = new Set()
      const reference = createMemoryAdapter()
      await play(() => graph(reference, durability))
      const expected = await shape(reference, durability)
      // How many calls the script makes: every one of them is a crash point, before and after.
      failures = new Set()
      const counter = crashing(createMemoryAdapter(), Number.POSITIVE_INFINITY, 'before')
      await play(() => graph(counter.adapter, durability))
      const points = counter.calls()
      let tested = 0
      for (let at = 0; at < points; at++) {
        for (const when of ['before', 'after'] as const) {
          failures = new Set()
          const store = createMemoryAdapter()
          const crash = crashing(store, at, when)
          let crashedAt = script.length
          let headBefore: string | undefined
          for (let i = 0; i < script.length; i++) {
            const op = script[i] as (typeof script)[number]
            headBefore = (await state(graph(store, durability)))?.config.checkpointId
            try {
              await op.run(graph(crash.adapter, durability))
            } catch (err) {
              if (crash.crashed()) {
                crashedAt = i
                break
              }
              if (!isEdgegraphError(err, 'NODE_FAILED')) throw err
            }
          }
          if (crashedAt < script.length) {
            // A fresh process: find out where the thread stands, then finish the interrupted operation and go on.
            const fresh = () => graph(store, durability)
            const op = script[crashedAt] as (typeof script)[number]
            const where = `crash ${when} call ${at} in "${op.name}"`
            let landed = await op.done(fresh(), headBefore)
            // Unfinished work of the operation: continue it (a failed node's retry, the rest of a run).
            for (let tries = 0; !landed && tries < 3; tries++) {
              const s = await state(fresh())
              const started = s !== undefined && s.config.checkpointId !== headBefore
              try {
                if (started && s.next.length > 0 && s.interrupts.length === 0) await fresh().invoke(null, { threadId: T })
                else await op.run(fresh())
              } catch (err) {
                if (!isEdgegraphError(err, 'NODE_FAILED')) throw new Error(`${where}: recovery failed: ${(err as Error).message}`)
              }
              landed = await op.done(fresh(), headBefore)
            }
            expect(landed, where).toBe(true)
            await play(fresh, crashedAt + 1)
          }
          const got = await shape(store, durability)
          if (durability === 'exit') {
            // With 'exit' nothing is stored until a run ends, so which intermediate checkpoints exist depends on where
            // the flaky node failed, and a crash can take that failure with it. The end state must be the same, and no
            // checkpoint may be stored twice.
            const end = (c: (typeof got)[number] | undefined) => c && { step: c.step, source: c.source, values: c.values, next: c.next }
            expect(end(got.at(-1)), `crash ${when} call ${at}`).toEqual(end(expected.at(-1)))
            const seen = got.map((c) => JSON.stringify(end(c)))
            expect(new Set(seen).size, `crash ${when} call ${at}: a checkpoint stored twice`).toBe(seen.length)
          } else {
            expect(got, `crash ${when} call ${at} in "${script[crashedAt]?.name ?? 'none'}"`).toEqual(expected)
          }
          expect(await orphans(store), `crash ${when} call ${at}`).toEqual([])
          tested++
        }
      }
      expect(tested).toBe(points * 2)
      console.info(`crash matrix, durability ${durability}: ${tested} crash points (${points} adapter calls, before and after each)`)
    }, 120_000)
  }
})

describe('errors tell the truth about the outcome', () => {
  it('a commit that failed after it landed is reported as possibly landed, and getState shows it did', async () => {
    const store = createMemoryAdapter()
    let cut = false
    const flaky: StorageAdapter = { ...store, name: store.name, limits: store.limits, get: (t, k) => store.get(t, k), scan: (t, r) => store.scan(t, r), threads: (o) => store.threads(o), deleteThread: (t) => store.deleteThread(t),
      commit: async (t, b, g) => {
        await store.commit(t, b, g)
        if (!cut) {
          cut = true
          throw new Error('connection reset')
        }
      },
    }
    const g = new StateGraph({ log: appendList }).addNode('a', () => ({ log: ['a'] })).addEdge(START, 'a').compile({ checkpointer: flaky })
    const err = await rejectsWith(g.invoke({ log: ['in'] }, { threadId: 't' }), 'STORAGE_FAILED')
    expect(err.message).toMatch(/may or may not have landed: read the thread \(getState\) before repeating an input/)
    // It did land: the input is stored; continuing (not repeating the input) finishes the turn once.
    expect((await g.getState({ threadId: 't' })).values.log).toEqual(['in'])
    expect((await g.invoke(null, { threadId: 't' })).log).toEqual(['in', 'a'])
  })
})
