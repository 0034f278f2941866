/**
 * Loading one checkpoint (getState, a run's start) follows its chain through pack columns without making a record per
 * entry (read.ts `loadChain`); listing rebuilds records. Both must give the same checkpoint, with the same bookkeeping
 * the writer's snapshot policy goes on, and every state handed out must be its own.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { History } from '../src/checkpoint/history.js'
import { collectRecords, rebuild } from '../src/checkpoint/read.js'
import { ChunkedStorage } from '../src/checkpoint/storage.js'
import { END, START, StateGraph, type StorageAdapter } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { collect, logChat, readStored, rejectsWith, storedBytes } from './helpers.js'
import { isPackKey } from '../src/checkpoint/keys.js'

const T = 'load'
/** Long enough that the log's chain stays deltas (short items make every few steps a snapshot), so packs fill. */
const LONG = 'y'.repeat(200)

/** Items of every kind the serde tags, so appends read from pack columns are decoded too. */
const item = (i: number, text: string) => (i % 5 === 0 ? { at: new Date(i), tags: new Map([[i, undefined]]), n: BigInt(i) } : i % 5 === 1 ? undefined : `${i} ${text}`)

/** A log appended to every step, a note overwritten now and then, usage on some steps, small packs. */
function graph(adapter: StorageAdapter, n: number, text: string) {
  return new StateGraph({
    log: { default: (): unknown[] => [], reducer: (a: unknown[], b: unknown[]) => [...a, ...b] },
    note: { default: () => ({ k: 0 }) },
  })
    .addNode('step', (s, ctx) => {
      if (s.log.length % 3 === 0) ctx.reportUsage({ inputTokens: s.log.length, outputTokens: 1, costUsd: 0.5 })
      return s.log.length % 4 === 0 ? { log: [item(s.log.length, text)], note: { k: s.log.length } } : { log: [item(s.log.length, text)] }
    })
    .addEdge(START, 'step')
    .addConditionalEdges('step', (s) => (s.log.length >= n ? END : 'step'))
    .compile({ checkpointer: { adapter, packSize: 4 } })
}

/** What the writer and the user see of a checkpoint, pending writes and shapes aside. */
const seen = ({ pending: _p, pendingKeys: _k, shapes: _s, ...rest }: Record<string, unknown>) => rest

describe('loading one checkpoint', () => {
  it('gives what the records rebuild: values, step fields, usage and the snapshot bookkeeping, on forks and packs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 6 })), { maxLength: 3 }),
        // Short text keeps packs loose-sized; repeated text makes them compress.
        fc.constantFrom('x', 'words words words words words words words words words words '.repeat(8)),
        async (n, forks, text) => {
          const store = createMemoryAdapter()
          const g = graph(store, n, text)
          await g.invoke({ log: [] }, { threadId: T, recursionLimit: 100 })
          // Forks: from an older checkpoint, a few more steps on a branch of their own.
          for (const [pick, more] of forks) {
            const all = await collect(g.getStateHistory({ threadId: T }))
            const from = all[pick % all.length]?.config.checkpointId as string
            const fork = await g.updateState({ threadId: T, checkpointId: from }, { note: { k: -1 } })
            await graph(store, ((all[pick % all.length]?.values.log as unknown[]).length ?? 0) + more, text).invoke(null, { ...fork, recursionLimit: 100 })
          }
          const history = new History(store)
          const storage = new ChunkedStorage(store)
          const listed = await history.list(T)
          expect(listed.length).toBeGreaterThan(n)
          for (const c of listed) {
            const loaded = await history.load(T, c.id)
            const [built] = rebuild(T, await collectRecords(storage, T, { targets: [c.id] }), [c.id])
            expect(seen(loaded as never)).toEqual(seen(built as never))
            expect(seen(loaded as never)).toEqual(seen(c as never))
          }
        },
      ),
      { numRuns: 25 },
    )
  })

  it('reads back appended Dates, Maps, BigInts and undefined from pack columns on a fresh graph', async () => {
    const store = createMemoryAdapter()
    const final = await graph(store, 40, LONG).invoke({ log: [] }, { threadId: T, recursionLimit: 100 })
    expect((await collect(store.scan(T))).filter(([k]) => isPackKey(k)).length).toBeGreaterThan(5)
    const { values } = await graph(store, 40, LONG).getState({ threadId: T })
    expect(values).toEqual(final)
    expect(values.log[5]).toEqual({ at: new Date(5), tags: new Map([[5, undefined]]), n: 5n })
    expect(values.log).toHaveLength(40)
    expect(Object.hasOwn(values.log, 1) && values.log[1] === undefined).toBe(true)
  })

  it('hands out states of their own: changing one changes no other, nor what is read next', async () => {
    const store = createMemoryAdapter()
    await graph(store, 30, LONG).invoke({ log: [] }, { threadId: T, recursionLimit: 100 })
    const g = graph(store, 30, LONG)
    const before = await collect(g.getStateHistory({ threadId: T }))
    const copy = structuredClone(before.map((s) => s.values))
    // Every listed state changed in place, the newest and an older one read again and changed too.
    for (const s of before) {
      ;(s.values.log as unknown[]).push('changed')
      s.values.note.k = -5
    }
    const head = await g.getState({ threadId: T })
    const old = await g.getState({ threadId: T, checkpointId: before[10]?.config.checkpointId as string })
    expect(head.values).toEqual(copy[0])
    expect(old.values).toEqual(copy[10])
    ;(head.values.log as unknown[]).length = 0
    expect((await g.getState({ threadId: T })).values).toEqual(copy[0])
    expect((await collect(g.getStateHistory({ threadId: T }))).map((s) => s.values)).toEqual(copy)
  })

  it('a pack column appending to a value that is not a list is CORRUPT_RECORD naming the thread and channel', async () => {
    // Long items only: the chain stays deltas back to the thread's first records, the first entries of the oldest pack.
    const chat = (adapter: StorageAdapter) => logChat({ adapter, packSize: 4 }, 30, (n) => `${n} ${LONG}`)
    const store = createMemoryAdapter()
    await chat(store).invoke({ log: [] }, { threadId: T, recursionLimit: 100 })
    const all = await collect(store.scan(T))
    const [key, raw] = all.find(([k]) => isPackKey(k)) as [string, Uint8Array]
    const pack = JSON.parse(await readStored(store, T, key, raw)) as { c: { log: unknown[] } }
    // Step 1 stores the log in full (nothing to keep from []), the steps after it append.
    expect(pack.c.log[1]).toEqual({ f: [`0 ${LONG}`] })
    expect(pack.c.log[2]).toEqual([`1 ${LONG}`])
    pack.c.log[1] = { f: 'not a list' }
    const copy = createMemoryAdapter()
    await copy.commit(T, { put: all.map(([k, v]) => [k, k === key ? storedBytes(JSON.stringify(pack)) : v]) })
    const err = await rejectsWith(chat(copy).getState({ threadId: T }), 'CORRUPT_RECORD')
    expect(err.message).toContain(`"${T}"`)
    expect(err.message).toContain('channel "log"')
  })
})
