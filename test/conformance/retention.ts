/** @module Conformance, retention: pruneHistory on packed, forked, chunked histories; what is kept loads exactly as before. */
import fc from 'fast-check'
import { describe, expect } from 'vitest'
import { Command, END, START, StateGraph, pruneHistory, type StateSnapshot, type StorageAdapter } from '../../src/index.js'
import { collect, dump, keysOf, rejectsWith, runsOf, type ConformanceOptions, type Test } from './suite.js'

const append = <T>() => ({ default: (): T[] => [], reducer: (a: T[], b: T[]) => a.concat(b) })

/** START → say, looping until the log holds a multiple of 3; `ask` makes `say` wait on an interrupt. Packs every 4 records. */
function talk(adapter: StorageAdapter) {
  return new StateGraph({ log: append<string>(), ask: { default: () => false } })
    .addNode('say', (s, ctx) => {
      const answer = s.ask ? ctx.interrupt<string>(`after ${s.log.length}?`) : undefined
      return answer === undefined ? { log: [`said ${s.log.length}`] } : { log: [`answer ${answer}`], ask: false }
    })
    .addEdge(START, 'say')
    .addConditionalEdges('say', (s) => (s.log.length % 3 === 0 ? END : 'say'), ['say', END])
    .compile({ checkpointer: { adapter, packSize: 4 } })
}
type Talk = ReturnType<typeof talk>

type Op = { kind: 'input'; big: boolean } | { kind: 'fork'; pick: number; ask: boolean } | { kind: 'resume'; pick: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('input' as const), big: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('fork' as const), pick: fc.nat(), ask: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resume' as const), pick: fc.nat() }) },
)

/** Plays `ops` on one thread: inputs continue the main line, forks branch off any checkpoint, some left waiting. */
async function play(graph: Talk, threadId: string, ops: Op[], big: string): Promise<void> {
  let main: string | undefined
  const waiting: string[] = []
  for (const [i, op] of ops.entries()) {
    if (op.kind === 'input' || main === undefined) {
      const input = { log: [op.kind === 'input' && op.big ? `${big}${i}` : `in ${i}`] }
      await graph.invoke(input, main === undefined ? { threadId } : { threadId, checkpointId: main })
      main = (await graph.getState({ threadId })).config.checkpointId
    } else if (op.kind === 'fork') {
      const all = await collect(graph.getStateHistory({ threadId }))
      const from = all[op.pick % all.length] as StateSnapshot<unknown>
      const fork = await graph.updateState(from.config, { ask: op.ask })
      // A fork of a finished checkpoint has nothing to run, so it is not left waiting even when asked to.
      const result = await graph.invoke(null, { threadId, checkpointId: fork.checkpointId })
      if (result.__interrupt__ !== undefined) waiting.push(fork.checkpointId)
    } else if (waiting.length > 0) {
      const [id] = waiting.splice(op.pick % waiting.length, 1)
      await graph.invoke(new Command({ resume: `yes ${i}` }), { threadId, checkpointId: id as string })
    }
  }
}

/** Prunes and checks: exactly the expected checkpoints remain, each equal to its snapshot from before; the rest are gone. */
async function pruneAndCheck(adapter: StorageAdapter, threadId: string, keepLast: number): Promise<StateSnapshot<unknown>[]> {
  const graph = talk(adapter)
  const before = await collect(graph.getStateHistory({ threadId }))
  const pending = new Set((await keysOf(adapter, threadId, { from: 'w/', to: 'w0' })).map((k) => k.split('/')[1]))
  const head = before[0]?.config.checkpointId
  const kept = before.filter((s, i) => i < keepLast || s.config.checkpointId === head || pending.has(s.config.checkpointId))

  expect(await pruneHistory(adapter, threadId, { keepLast })).toEqual({ kept: kept.length, deleted: before.length - kept.length })
  const fresh = talk(adapter)
  const after = await collect(fresh.getStateHistory({ threadId }))
  expect(after).toStrictEqual(kept)
  for (const s of kept.slice(-3)) expect(await fresh.getState(s.config)).toStrictEqual(s)
  const gone = before.filter((s) => !kept.includes(s))
  for (const s of [gone[0], gone.at(-1)]) if (s) await rejectsWith(fresh.getState(s.config), 'CHECKPOINT_NOT_FOUND')
  // Nothing left behind: every value fits, every chunk belongs to a chunked value.
  const keys = new Set(await keysOf(adapter, threadId))
  for (const key of keys) if (key.startsWith('k/')) expect({ key, owner: keys.has(key.slice(2, key.lastIndexOf('/'))) }).toEqual({ key, owner: true })
  for await (const [key, value] of adapter.scan(threadId)) expect({ key, fits: value.length <= adapter.limits.maxValueBytes }).toMatchObject({ fits: true })
  return kept
}

export function retentionTests(options: ConformanceOptions, test: Test): void {
  const create = async () => options.create()
  const createSmall = async () => (options.createSmall ?? options.create)()

  describe('retention (pruneHistory)', () => {
    test('pruneHistory keeps the newest checkpoints, the head and a waiting fork, each loading exactly as before', async () => {
      const adapter = await create()
      const threadId = 'prune'
      const graph = talk(adapter)
      // A big first entry keeps the later records deltas (no snapshots), so their chain is long enough to pack.
      await play(graph, threadId, [{ kind: 'input', big: true }, { kind: 'fork', pick: 4, ask: true }, ...Array.from({ length: 8 }, () => ({ kind: 'input' as const, big: false }))], 'x'.repeat(1000))
      expect((await keysOf(adapter, threadId, { from: 'a/', to: 'a0' })).length).toBeGreaterThan(2)
      const kept = await pruneAndCheck(adapter, threadId, 5)
      const waiting = kept.at(-1) as StateSnapshot<unknown>
      expect(waiting.interrupts).toHaveLength(1)

      // The thread goes on: a new turn, the waiting fork resumed, a fork of a kept checkpoint, and a second prune.
      const fresh = talk(adapter)
      expect((await fresh.invoke({ log: ['again'] }, { threadId })).log.slice(-3)).toEqual(['again', 'said 28', 'said 29'])
      expect((await fresh.invoke(new Command({ resume: 'ok' }), { threadId, checkpointId: waiting.config.checkpointId })).log).toContain('answer ok')
      await fresh.updateState(kept[1]?.config as { threadId: string; checkpointId: string }, { log: ['late'] })
      await pruneAndCheck(adapter, threadId, 2)
    })

    test('pruneHistory rewrites chunked records and packs within maxValueBytes and leaves no chunk behind', async () => {
      const adapter = await createSmall()
      const threadId = 'prune-chunks'
      // Random characters (multi-byte ones among them), so packs do not compress below a chunk and are split too.
      let seed = 11
      const pick = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % 99
      const alphabet = [...Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i)), 'é', '€', '𝄞', 'a']
      const big = `big:${Array.from({ length: Math.ceil((1.5 * adapter.limits.maxValueBytes) / 1.2) }, () => alphabet[pick()]).join('')}`
      const ops: Op[] = [{ kind: 'input', big: true }, { kind: 'fork', pick: 1, ask: true }, ...Array.from({ length: 6 }, (_, i) => ({ kind: 'input' as const, big: i % 2 === 0 }))]
      await play(talk(adapter), threadId, ops, big)
      const keys = await keysOf(adapter, threadId)
      expect(keys.some((k) => k.startsWith('k/a/'))).toBe(true)
      await pruneAndCheck(adapter, threadId, 4)
      await pruneAndCheck(adapter, threadId, 1)
    })

    test('pruneHistory fails with CONFLICT and changes nothing when a run commits during it', async () => {
      const adapter = await create()
      const threadId = 'prune-race'
      await play(talk(adapter), threadId, Array.from({ length: 4 }, () => ({ kind: 'input' as const, big: false })), '')
      let seen: Awaited<ReturnType<typeof dump>> = []
      const racing: StorageAdapter = {
        name: adapter.name,
        limits: adapter.limits,
        get: (thread, keys) => adapter.get(thread, keys),
        scan: (thread, range) => adapter.scan(thread, range),
        commit: async (thread, batch, guard) => {
          await talk(adapter).invoke({ log: ['meanwhile'] }, { threadId })
          seen = await dump(adapter, threadId)
          return adapter.commit(thread, batch, guard)
        },
        deleteThread: (thread) => adapter.deleteThread(thread),
        threads: (o) => adapter.threads(o),
      }
      await rejectsWith(pruneHistory(racing, threadId, { keepLast: 2 }), 'CONFLICT')
      expect(seen.length).toBeGreaterThan(0)
      expect(await dump(adapter, threadId)).toEqual(seen)
      await pruneAndCheck(adapter, threadId, 2)
    })

    test('random histories pruned to a random keepLast keep exactly what they should, each loading as before (fast-check)', async () => {
      // Few runs: this suite runs on slow backends too. test/retention.test.ts runs many on the memory adapter.
      await pruneProperty(createSmall, runsOf(options, 3))
    }, 60_000)
  })
}

/**
 * Random histories (inputs, forks, waiting forks, resumes) pruned to a random `keepLast`: exactly the expected
 * checkpoints remain, each loading as before, and the thread continues from its head.
 */
export async function pruneProperty(create: () => Promise<StorageAdapter>, numRuns: number): Promise<void> {
  const small = (await create()).limits.maxValueBytes
  // Above the limit when it is small (chunks); big enough to keep records deltas (packs) either way.
  const big = `big:${'x'.repeat(small <= 64 * 1024 ? small : 2000)}`
  const threadId = 'prune-random'
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 2, maxLength: 6 }), fc.integer({ min: 1, max: 12 }), async (ops, keepLast) => {
      const adapter = await create()
      await play(talk(adapter), threadId, ops, big)
      await pruneAndCheck(adapter, threadId, keepLast)
      const head = await talk(adapter).getState({ threadId })
      const next = await talk(adapter).invoke({ log: ['after'] }, { threadId })
      expect(next.log.slice(0, head.values.log.length + 1)).toEqual([...head.values.log, 'after'])
    }),
    { numRuns },
  )
}
