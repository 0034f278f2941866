/** @module Conformance, history level: chunked values, corrupt records and conflicting writers, seen through the graph API. */
import { describe, expect } from 'vitest'
import { END, START, StateGraph, type StorageAdapter } from '../../src/index.js'
import { QUOTA, collect, dump, gate, keysOf, needing, noise, recordRun, rejectsWith, utf8, withoutLock, type ConformanceOptions, type Test } from './suite.js'
import { isPackKey } from '../../src/checkpoint/keys.js'

const append = <T>() => ({ default: (): T[] => [], reducer: (a: T[], b: T[]) => a.concat(b) })

/** A string of at least `bytes` UTF-8 bytes mixing 1- to 4-byte characters, so chunk boundaries split characters. */
const bigText = (seed: string, bytes: number) => `${seed}:${'aé€𝄞'.repeat(Math.ceil(bytes / 10))}`

/** START → echo → END over channels that hold big values of three kinds. */
function chunkGraph(adapter: StorageAdapter) {
  return new StateGraph({ doc: { default: () => '' }, log: append<string>(), blob: { default: () => new Uint8Array(0) } })
    .addNode('echo', (s) => ({ log: [`seen ${s.log.length}`] }))
    .addEdge(START, 'echo')
    .addEdge('echo', END)
    .compile({ checkpointer: adapter })
}

/** START fans out to `big` (writes a big value) and `flaky` (throws while `control.fail`). */
function pendingGraph(adapter: StorageAdapter, control: { fail: boolean; big: string; bigRuns: number }) {
  return new StateGraph({ log: append<string>() })
    .addNode('big', () => {
      control.bigRuns++
      return { log: [control.big] }
    })
    .addNode('flaky', () => {
      if (control.fail) throw new Error('flaky is down')
      return { log: ['flaky ok'] }
    })
    .addEdge(START, 'big')
    .addEdge(START, 'flaky')
    .addEdge('big', END)
    .addEdge('flaky', END)
    .compile({ checkpointer: adapter })
}

/** START → inc → END: a count and a log that grows by delta. `control.fail` makes inc throw. */
function counterGraph(adapter: StorageAdapter, control: { fail: boolean } = { fail: false }) {
  return new StateGraph({ count: { default: () => 0 }, log: append<string>() })
    .addNode('inc', (s) => {
      if (control.fail) throw new Error('inc is down')
      return { count: s.count + 1, log: [`inc ${s.count}`] }
    })
    .addEdge(START, 'inc')
    .addEdge('inc', END)
    .compile({ checkpointer: adapter })
}

/** `n` characters of printable noise (no backend compresses it much), the same for the same `seed`. */
const noisyText = (n: number, seed: number) => Array.from(noise(n, seed), (b) => String.fromCharCode(48 + (b % 64))).join('')

/** START → grow → END: appends one entry of `control.bytes` characters, so a step can be made too big to store. */
function growGraph(adapter: StorageAdapter, control: { bytes: number }) {
  return new StateGraph({ log: append<string>() })
    .addNode('grow', (s) => ({ log: [`${s.log.length}:${noisyText(control.bytes, s.log.length + 1)}`] }))
    .addEdge(START, 'grow')
    .addEdge('grow', END)
    .compile({ checkpointer: adapter })
}

interface Hooks {
  route?: () => Promise<void>
  work?: () => Promise<void>
  then?: 'fail' | 'interrupt'
}

/** START →(async router) work → END; hooks let a test hold a run at the router or inside the node. */
function raceGraph(adapter: StorageAdapter, hooks: Hooks = {}) {
  return new StateGraph({ log: append<string>(), n: { default: () => 0 } })
    .addNode('work', async (s, ctx) => {
      await hooks.work?.()
      if (hooks.then === 'fail') throw new Error('work failed')
      if (hooks.then === 'interrupt') ctx.interrupt('continue?')
      return { log: [`work ${s.n}`] }
    })
    .addConditionalEdges(
      START,
      async () => {
        await hooks.route?.()
        return 'work'
      },
      ['work'],
    )
    .addEdge('work', END)
    .compile({ checkpointer: adapter })
}

/** Corruptions of one checkpoint record; `parentId` is the id of the record's real parent. */
const CORRUPTIONS: [what: string, bytes: (parentId: string) => Uint8Array][] = [
  ['bytes that are not JSON', () => utf8('{"s":2,"n":[')],
  ['bytes that are not UTF-8', () => new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])],
  ['no bytes at all', () => new Uint8Array(0)],
  ['JSON of the wrong shape', () => utf8('{"s":"two","n":{},"c":[]}')],
  ['a delta that does not fit its parent value', (p) => utf8(JSON.stringify({ p, s: 2, n: ['inc'], c: { count: { a: [1] } } }))],
  ['a value with an unknown type tag', (p) => utf8(JSON.stringify({ p, s: 2, n: ['inc'], c: { count: { f: { $t: 'zz', v: 1 } } } }))],
  ['a parent id that does not exist', () => utf8(JSON.stringify({ p: '00000000000', s: 2, n: ['inc'], c: { count: { f: 3 } } }))],
  ['a chunk marker whose chunks are missing', () => utf8('#3')],
]

export function historyTests(options: ConformanceOptions, test: Test): void {
  const create = async () => options.create()
  const createSmall = async () => (options.createSmall ?? options.create)()
  const createWithQuota = async (bytes: number) => (options.createWithQuota as NonNullable<ConformanceOptions['createWithQuota']>)(bytes)
  const quotaTest = needing(options, test, 'createWithQuota')
  const corrupt = options.corrupt ?? ((adapter, thread, key, bytes) => adapter.commit(thread, { put: [[key, bytes]] }))

  describe('checkpoint history', () => {
    test('state values above maxValueBytes are chunked and read back exactly on a fresh graph', async () => {
      const adapter = await createSmall()
      const max = adapter.limits.maxValueBytes
      const threadId = 'chunks'
      const graph = chunkGraph(adapter)
      const announced = []
      for (let i = 1; i <= 3; i++) {
        const blob = new Uint8Array(max + 100 * i).map((_, j) => (j * 31 + i) % 256)
        const run = await recordRun(graph, { doc: bigText(`doc${i}`, 2.5 * max), log: [bigText(`log${i}`, 1.5 * max)], blob }, { threadId })
        expect(run.error).toBeUndefined()
        expect(run.created).toHaveLength(2)
        announced.push(...run.created)
      }
      const stored = await collect(adapter.scan(threadId))
      expect(stored.filter(([key]) => key.startsWith('k/c/')).length).toBeGreaterThan(3)
      for (const [key, value] of stored) expect({ key, length: value.length, fits: value.length <= max }).toMatchObject({ fits: true })

      const fresh = chunkGraph(adapter)
      for (const c of announced) {
        const snap = await fresh.getState({ threadId, checkpointId: c.id })
        expect(snap.values).toStrictEqual(c.values)
        expect(snap.metadata).toStrictEqual(c.metadata)
      }
      const history = await collect(fresh.getStateHistory({ threadId }))
      expect(history.map((s) => s.config.checkpointId)).toEqual(announced.map((c) => c.id).reverse())
      expect(history.map((s) => s.values)).toStrictEqual(announced.map((c) => c.values).reverse())
      const last = announced.at(-1)?.values as { doc: string; log: string[] }
      expect(last.doc).toBe(bigText('doc3', 2.5 * max))
      expect(last.log).toEqual([bigText('log1', 1.5 * max), 'seen 1', bigText('log2', 1.5 * max), 'seen 3', bigText('log3', 1.5 * max), 'seen 5'])
    })

    test('pending writes above maxValueBytes are chunked, reused on resume, and not kept once folded in', async () => {
      const adapter = await createSmall()
      const max = adapter.limits.maxValueBytes
      const threadId = 'pending-chunks'
      const control = { fail: true, big: bigText('pending', 2.5 * max), bigRuns: 0 }
      await rejectsWith(pendingGraph(adapter, control).invoke({ log: ['go'] }, { threadId }), 'NODE_FAILED')
      const keys = await keysOf(adapter, threadId)
      expect(keys.filter((k) => k.startsWith('k/w/')).length).toBeGreaterThan(1)
      for (const [key, value] of await collect(adapter.scan(threadId))) expect({ key, fits: value.length <= max }).toMatchObject({ fits: true })

      const failed = await pendingGraph(adapter, control).getState({ threadId })
      // As LangGraph.js shows it: the finished task's writes applied, and only the unfinished task still next.
      expect(failed.next).toEqual(['flaky'])
      expect(failed.values.log).toStrictEqual(['go', control.big])
      expect(failed.tasks.map((t) => [t.name, t.result, t.error?.message])).toStrictEqual([
        ['big', { log: [control.big] }, undefined],
        ['flaky', undefined, 'flaky is down'],
      ])

      control.fail = false
      const done = await pendingGraph(adapter, control).invoke(null, { threadId })
      expect(control.bigRuns).toBe(1)
      expect(done.log).toStrictEqual(['go', control.big, 'flaky ok'])
      expect((await keysOf(adapter, threadId)).filter((k) => k.startsWith('w/') || k.startsWith('k/w/'))).toEqual([])
      const history = await collect(pendingGraph(adapter, control).getStateHistory({ threadId }))
      expect(history.map((s) => s.values.log)).toStrictEqual([['go', control.big, 'flaky ok'], ['go']])
    })

    test('every page (limit, before) and filter of a branched history equals the same slice of the full history', async () => {
      const adapter = await create()
      const threadId = 'pages'
      const graph = new StateGraph({ log: append<string>(), obj: { default: (): Record<string, unknown> => ({}), reducer: (a: Record<string, unknown>, b: Record<string, unknown>) => ({ ...a, ...b }) } })
        .addNode('count', (s) => ({ obj: { count: s.log.length } }))
        .addEdge(START, 'count')
        .addEdge('count', END)
        .compile({ checkpointer: adapter })
      // A big first value makes the later records deltas; `obj` changes one key at a time.
      await graph.invoke({ log: ['x'.repeat(1000)], obj: { keep: true } }, { threadId })
      const turn1 = await graph.getState({ threadId })
      await graph.invoke({ log: ['y'] }, { threadId })
      await graph.updateState({ threadId, checkpointId: turn1.config.checkpointId }, { log: ['z'] })
      await graph.invoke(null, { threadId, checkpointId: turn1.metadata.parentId as string })
      await graph.invoke({ log: ['w'] }, { threadId })

      const full = await collect(graph.getStateHistory({ threadId }))
      for (const s of full) expect(s).toStrictEqual(await graph.getState(s.config))
      for (let limit = 1; limit <= full.length; limit++) {
        for (const [i, from] of [undefined, ...full].entries()) {
          const options = from === undefined ? { limit } : { limit, before: from.config.checkpointId }
          expect({ options, page: await collect(graph.getStateHistory({ threadId }, options)) }).toStrictEqual({ options, page: full.slice(i, i + limit) })
        }
      }
      for (const filter of [{ source: 'input' }, { source: 'loop' }, { source: 'fork' }, { step: 2 }]) {
        const matching = full.filter((s) => Object.entries(filter).every(([k, v]) => s.metadata[k] === v))
        expect(matching.length).toBeGreaterThan(0)
        expect({ filter, page: await collect(graph.getStateHistory({ threadId }, { filter, limit: 1 })) }).toStrictEqual({ filter, page: matching.slice(0, 1) })
        expect({ filter, page: await collect(graph.getStateHistory({ threadId }, { filter })) }).toStrictEqual({ filter, page: matching })
      }
    })

    quotaTest('a step refused with QUOTA_EXCEEDED leaves every stored checkpoint loading as before; the run resumes once space is freed', async () => {
      const adapter = await createWithQuota(QUOTA)
      const threadId = 'quota'
      // 40 KiB elsewhere leaves the thread below about 24 KiB: a step writing 32 KiB cannot be stored until it is freed.
      await adapter.commit('other', { put: [['filler', noise(40 * 1024)]] })
      const control = { bytes: 100 }
      for (const turn of ['one', 'two']) await growGraph(adapter, control).invoke({ log: [turn] }, { threadId })
      const before = await collect(growGraph(adapter, control).getStateHistory({ threadId }))
      expect(before).toHaveLength(4)
      const last = before[0] as (typeof before)[number]

      control.bytes = 32 * 1024
      const err = await rejectsWith(growGraph(adapter, control).invoke({ log: ['three'] }, { threadId }), 'QUOTA_EXCEEDED')
      expect(err.message).toContain(threadId)
      // The turn's input checkpoint fit and was stored; nothing of the refused step was.
      const fresh = growGraph(adapter, control)
      const history = await collect(fresh.getStateHistory({ threadId }))
      expect(history.slice(1)).toStrictEqual(before)
      const head = history[0] as (typeof history)[number]
      expect({ values: head.values, next: head.next, source: head.metadata.source, parentId: head.metadata.parentId }).toStrictEqual({
        values: { log: [...last.values.log, 'three'] },
        next: ['grow'],
        source: 'input',
        parentId: last.config.checkpointId,
      })
      expect(await fresh.getState({ threadId })).toStrictEqual(head)
      for (const s of before) expect(await fresh.getState(s.config)).toStrictEqual(s)

      // Space freed: continuing runs the refused step again, and stores it after the head.
      await adapter.deleteThread('other')
      const done = await fresh.invoke(null, { threadId })
      expect(done).toStrictEqual({ log: [...head.values.log, `5:${noisyText(32 * 1024, 6)}`] })
      const after = await collect(growGraph(adapter, control).getStateHistory({ threadId }))
      expect(after.slice(1)).toStrictEqual(history)
      expect(after[0]?.values).toStrictEqual(done)
      expect(after[0]?.metadata.parentId).toBe(head.config.checkpointId)
    })

    for (const [what, bytes] of CORRUPTIONS) {
      test(`a checkpoint record holding ${what} fails with CORRUPT_RECORD naming it; its ancestors stay readable and nothing changes`, async () => {
        const adapter = await create()
        const threadId = 'corrupt'
        for (let i = 0; i < 3; i++) await counterGraph(adapter).invoke({ log: [`turn ${i}`] }, { threadId })
        const graph = counterGraph(adapter)
        const before = await collect(graph.getStateHistory({ threadId }))
        const ids = before.map((s) => s.config.checkpointId).reverse() // oldest first
        expect(ids).toHaveLength(6)
        const [a0, a1, target, ...descendants] = ids as [string, string, string, ...string[]]
        const key = `c/${target}`
        const garbage = bytes(a1)
        const raw = (await dump(adapter, threadId)).map(([k, v]): [string, string] => [k, k === key ? Array.from(garbage, (b) => b.toString(16).padStart(2, '0')).join('') : v])
        await corrupt(adapter, threadId, key, garbage)
        expect(await dump(adapter, threadId)).toEqual(raw)

        const fresh = counterGraph(adapter)
        const snapshotOf = (id: string) => before.find((s) => s.config.checkpointId === id)
        const err = await rejectsWith(fresh.getState({ threadId, checkpointId: target }), 'CORRUPT_RECORD')
        expect(err.message).toContain(target)
        expect(err.context).toMatchObject({ threadId, checkpointId: target })
        for (const id of [a0, a1]) expect(await fresh.getState({ threadId, checkpointId: id })).toStrictEqual(snapshotOf(id))
        expect(await collect(fresh.getStateHistory({ threadId }, { before: target }))).toStrictEqual(before.slice(-2))
        // A checkpoint after it reads back exactly, or fails as corrupt: never with wrong values.
        for (const id of descendants) {
          const read = await fresh.getState({ threadId, checkpointId: id }).catch((e: unknown) => e)
          if (read instanceof Error) expect((await rejectsWith(Promise.reject(read), 'CORRUPT_RECORD')).message).toContain(target)
          else expect(read).toStrictEqual(snapshotOf(id))
        }
        const listed = await collect(fresh.getStateHistory({ threadId })).catch((e: unknown) => e)
        if (listed instanceof Error) expect((await rejectsWith(Promise.reject(listed), 'CORRUPT_RECORD')).message).toContain(target)
        else {
          const entries = listed as typeof before
          expect(entries.map((s) => s.config.checkpointId)).not.toContain(target)
          for (const entry of entries) expect(entry).toStrictEqual(snapshotOf(entry.config.checkpointId))
        }
        expect(await dump(adapter, threadId)).toEqual(raw)

        // The way out the error message suggests: fork from an earlier checkpoint.
        const forked = await fresh.updateState({ threadId, checkpointId: a1 }, { count: 100 })
        expect((await fresh.getState(forked)).values).toStrictEqual({ count: 100, log: (snapshotOf(a1)?.values as { log: string[] }).log })
      })
    }

    test('a corrupt pending write fails with CORRUPT_RECORD naming its checkpoint; its parent stays readable', async () => {
      const adapter = await create()
      const threadId = 'corrupt-pending'
      const control = { fail: false }
      await counterGraph(adapter, control).invoke({ log: ['one'] }, { threadId })
      control.fail = true
      await rejectsWith(counterGraph(adapter, control).invoke({ log: ['two'] }, { threadId }), 'NODE_FAILED')
      const graph = counterGraph(adapter, control)
      const failed = await graph.getState({ threadId })
      const id = failed.config.checkpointId
      expect(failed.tasks[0]?.error?.message).toBe('inc is down')
      const [pendingKey] = await keysOf(adapter, threadId, { from: `w/${id}/`, to: `w/${id}/~` })
      expect(pendingKey).toBeDefined()
      const parent = await graph.getState({ threadId, checkpointId: failed.metadata.parentId as string })
      await corrupt(adapter, threadId, pendingKey as string, utf8('{"n":'))
      const err = await rejectsWith(counterGraph(adapter).getState({ threadId, checkpointId: id }), 'CORRUPT_RECORD')
      expect(err.message).toContain(id)
      expect(await counterGraph(adapter).getState(parent.config)).toStrictEqual(parent)
    })

    for (const [what, bytes] of [['bytes that are not UTF-8', new Uint8Array([0xff, 0xfe])], ['text that is not a checkpoint id', utf8('not an id')], ['the id of no checkpoint', utf8('zzzzzzzzzzz')]] as const) {
      test(`a head holding ${what} fails with CORRUPT_RECORD; every checkpoint stays readable and a new run writes nothing`, async () => {
        const adapter = await create()
        const threadId = 'corrupt-head'
        for (let i = 0; i < 2; i++) await counterGraph(adapter).invoke({ log: [`turn ${i}`] }, { threadId })
        const before = await collect(counterGraph(adapter).getStateHistory({ threadId }))
        await corrupt(adapter, threadId, 'h', bytes)
        const raw = await dump(adapter, threadId)
        const fresh = counterGraph(adapter)
        await rejectsWith(fresh.getState({ threadId }), 'CORRUPT_RECORD')
        await rejectsWith(fresh.invoke({ log: ['more'] }, { threadId }), 'CORRUPT_RECORD')
        expect(await dump(adapter, threadId)).toEqual(raw)
        expect(await collect(fresh.getStateHistory({ threadId }))).toStrictEqual(before)
        for (const snap of before) expect(await fresh.getState(snap.config)).toStrictEqual(snap)
      })
    }

    const LOSERS: { when: string; hooks: (wait: () => Promise<void>) => Hooks; stored: number }[] = [
      { when: 'before its first checkpoint', hooks: (wait) => ({ route: wait }), stored: 0 },
      { when: 'when committing its next checkpoint', hooks: (wait) => ({ work: wait }), stored: 1 },
      { when: 'when storing a failed step’s pending writes', hooks: (wait) => ({ work: wait, then: 'fail' }), stored: 1 },
      { when: 'when storing an interrupt', hooks: (wait) => ({ work: wait, then: 'interrupt' }), stored: 1 },
    ]
    for (const loser of LOSERS) {
      test(`a run that another run overtook fails with CONFLICT ${loser.when}, and the stored history is the winner’s`, async () => {
        const adapter = await create()
        const threadId = 'race'
        await raceGraph(adapter).invoke({ n: 1 }, { threadId })
        const held = gate()
        const hooks = loser.hooks(held.wait)
        // The loser does not take the thread lock (adapters with one would otherwise queue the winner
        // behind it): this is the writer only the head guard can stop.
        const losingGraph = raceGraph(withoutLock(adapter), hooks)
        const losing = losingGraph.invoke({ n: 2 }, { threadId })
        losing.catch(() => {}) // awaited below; keeps an early rejection from being reported as unhandled
        await held.reached

        await raceGraph(adapter).invoke({ n: 3 }, { threadId })
        const winnerHistory = await collect(raceGraph(adapter).getStateHistory({ threadId }))
        const raw = await dump(adapter, threadId)
        expect(winnerHistory).toHaveLength(2 + loser.stored + 2)
        expect(winnerHistory[0]?.values).toStrictEqual({ n: 3, log: ['work 1', 'work 3'] })

        held.open()
        const err = await rejectsWith(losing, 'CONFLICT')
        expect(err.message).toContain(threadId)
        expect(await dump(adapter, threadId)).toEqual(raw)
        expect(await collect(raceGraph(adapter).getStateHistory({ threadId }))).toStrictEqual(winnerHistory)

        // Retrying on the same graph object builds on the winner's head.
        delete hooks.route
        delete hooks.work
        delete hooks.then
        const retried = await losingGraph.invoke({ n: 4 }, { threadId })
        expect(retried).toStrictEqual({ n: 4, log: ['work 1', 'work 3', 'work 4'] })
        const history = await collect(raceGraph(adapter).getStateHistory({ threadId }))
        expect(history).toHaveLength(winnerHistory.length + 2)
        expect(history[1]?.metadata.parentId).toBe(winnerHistory[0]?.config.checkpointId)
      })
    }

    test('packs of natural text are stored compressed (on platforms with CompressionStream) and read back right', async () => {
      const adapter = await create()
      const threadId = 'zip'
      const sentence = 'The agent read the plan again and asked whether the second step should run before the first. '
      const graph = (checkpointer: StorageAdapter | { adapter: StorageAdapter; packSize: number }) =>
        new StateGraph({ log: append<string>() })
          .addNode('step', (s) => ({ log: [`${s.log.length}: ${sentence.repeat(8)}`] }))
          .addEdge(START, 'step')
          .addConditionalEdges('step', (s) => (s.log.length >= 40 ? END : 'step'))
          .compile({ checkpointer })
      const writer = graph({ adapter, packSize: 8 })
      await writer.invoke({ log: [] }, { threadId, recursionLimit: 100 })
      const written = await collect(writer.getStateHistory({ threadId }))
      expect(written).toHaveLength(41)
      const packs = (await dump(adapter, threadId)).filter(([k]) => isPackKey(k))
      expect(packs.length).toBeGreaterThanOrEqual(3)
      // 'z': compressed, where the platform has CompressionStream (browsers, workerd, Node 18+).
      if (typeof CompressionStream === 'function') for (const [key, value] of packs) expect(value.slice(0, 2), key).toBe('7a')
      const reader = graph(adapter)
      expect(await collect(reader.getStateHistory({ threadId }))).toStrictEqual(written)
      expect((await reader.getState({ threadId })).values.log).toHaveLength(40)
    })

    test('long histories are packed: every checkpoint, fork and corrupt pack still reads back right', async () => {
      const adapter = await create()
      const threadId = 'packs'
      // packSize 4 packs after a handful of steps; a fresh graph reads with the default size.
      const loop = (checkpointer: StorageAdapter | { adapter: StorageAdapter; packSize: number }, until: number) =>
        new StateGraph({ log: append<string>(), n: { default: () => 0 } })
          // Long log entries keep the chain free of snapshots, like a chat: the case packing is for.
          .addNode('step', (s) => ({ n: s.n + 1, log: [`step ${s.n} ${'x'.repeat(200)}`] }))
          .addEdge(START, 'step')
          .addConditionalEdges('step', (s) => (s.n >= until ? END : 'step'))
          .compile({ checkpointer })
      const writer = loop({ adapter, packSize: 4 }, 30)
      await writer.invoke({}, { threadId, recursionLimit: 100 })
      const written = await collect(writer.getStateHistory({ threadId }))
      expect(written).toHaveLength(31)
      const keys = await keysOf(adapter, threadId)
      const packs = keys.filter((k) => isPackKey(k))
      const loose = keys.filter((k) => k.startsWith('c/'))
      expect(packs.length).toBeGreaterThanOrEqual(6)
      expect(loose.length).toBeLessThanOrEqual(5)

      const reader = loop(adapter, 30)
      expect(await collect(reader.getStateHistory({ threadId }))).toStrictEqual(written)
      for (const snap of written) expect((await reader.getState(snap.config)).values).toStrictEqual(snap.values)
      const page = await collect(reader.getStateHistory({ threadId }, { limit: 5, before: written[10]?.config.checkpointId as string }))
      expect(page).toStrictEqual(written.slice(11, 16))

      // A fork from a packed checkpoint continues and packs again without touching the old branch.
      const old = written[20]?.config as { threadId: string; checkpointId: string }
      const forkWriter = loop({ adapter, packSize: 4 }, 40)
      await forkWriter.updateState(old, { log: ['fork'] })
      expect((await forkWriter.invoke(null, { threadId, recursionLimit: 100 })).n).toBe(40)
      for (const snap of written) expect((await reader.getState(snap.config)).values).toStrictEqual(snap.values)

      // A corrupt pack is reported, naming a checkpoint; loose checkpoints built on a snapshot-free chain fail
      // the same way, and nothing else is changed.
      const before = await dump(adapter, threadId)
      const victim = packs[1] as string
      await corrupt(adapter, threadId, victim, utf8('[["not an id"'))
      const err = await rejectsWith(reader.getState({ threadId, checkpointId: written[25]?.config.checkpointId as string }), 'CORRUPT_RECORD')
      expect(err.message).toContain(victim.slice(2))
      expect((await dump(adapter, threadId)).filter(([k]) => k !== victim)).toEqual(before.filter(([k]) => k !== victim))
    })
  })
}
