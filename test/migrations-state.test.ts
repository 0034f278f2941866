/**
 * State migrations (`compile({ version, migrations })`): threads written by an older state version are read migrated
 * and continue under new code; a newer version is refused with nothing written. (test/migrations.test.ts is about
 * the D1 schema.)
 */
import { describe, expect, it } from 'vitest'
import { Command, END, START, StateGraph, pruneHistory, type StorageAdapter } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { createSync } from '../src/sync/index.js'
import { appendList, collect, readStored, rejectsWith, storedText } from './helpers.js'
import { packTexts } from '../src/checkpoint/record.js'
import { isPackKey } from '../src/checkpoint/keys.js'

const t = { threadId: 't' }
const text = { default: () => '' }
/** Long enough that the snapshot policy alone would store deltas: only the version change makes a snapshot. */
const ada = `ada ${'lovelace '.repeat(40)}`
const ADA = ada.toUpperCase()

/** What each version changed: 2 renames `name` to `fullName`, 3 upper-cases it (and adds `tags`, filled by its default). */
const migrations = {
  2: ({ name, ...rest }: { name: string }) => ({ ...rest, fullName: name }),
  3: (s: { fullName: string }) => ({ ...s, fullName: s.fullName.toUpperCase() }),
}

interface Opts {
  /** Stop after every step (interruptAfter), so each invoke moves the thread by one step. */
  pause?: boolean
  packSize?: number
}
const compileWith = (store: StorageAdapter, o: Opts) => ({ checkpointer: { adapter: store, packSize: o.packSize ?? 64 }, interruptAfter: o.pause ? (['inc'] as 'inc'[]) : [] })
const until6 = (s: { count: number }) => (s.count >= 6 ? END : 'inc')

/** A counter with a name, in each of its three versions; `inc` counts to 6. */
function counterV1(store: StorageAdapter, o: Opts = {}) {
  return new StateGraph({ name: text, count: { default: () => 0 } })
    .addNode('inc', (s) => ({ count: s.count + 1 }))
    .addEdge(START, 'inc')
    .addConditionalEdges('inc', until6, ['inc', END])
    .compile(compileWith(store, o))
}
function counterV2(store: StorageAdapter, o: Opts = {}) {
  return new StateGraph({ fullName: text, count: { default: () => 0 } })
    .addNode('inc', (s) => ({ count: s.count + 1 }))
    .addEdge(START, 'inc')
    .addConditionalEdges('inc', until6, ['inc', END])
    .compile({ ...compileWith(store, o), version: 2, migrations: { 2: migrations[2] } })
}
function counterV3(store: StorageAdapter, o: Opts = {}) {
  return new StateGraph({ fullName: text, count: { default: () => 0 }, tags: appendList })
    .addNode('inc', (s) => ({ count: s.count + 1, tags: [`inc ${s.count + 1}`] }))
    .addEdge(START, 'inc')
    .addConditionalEdges('inc', until6, ['inc', END])
    .compile({ ...compileWith(store, o), version: 3, migrations })
}

/** A chat: each message gets replies until the list holds a multiple of 4. Version 2 renames `name` to `fullName`. */
function chatV1(store: StorageAdapter, packSize = 3) {
  return new StateGraph({ name: text, messages: appendList })
    .addNode('reply', (s) => ({ messages: [`re ${s.messages.length}: ${'x'.repeat(40)}`] }))
    .addEdge(START, 'reply')
    .addConditionalEdges('reply', (s) => (s.messages.length % 4 === 0 ? END : 'reply'), ['reply', END])
    .compile({ checkpointer: { adapter: store, packSize } })
}
function chatV2(store: StorageAdapter, packSize = 3) {
  return new StateGraph({ fullName: text, messages: appendList })
    .addNode('reply', (s) => ({ messages: [`re ${s.messages.length} (${s.fullName}): ${'x'.repeat(40)}`] }))
    .addEdge(START, 'reply')
    .addConditionalEdges('reply', (s) => (s.messages.length % 4 === 0 ? END : 'reply'), ['reply', END])
    .compile({ checkpointer: { adapter: store, packSize }, version: 2, migrations: { 2: migrations[2] } })
}

/** A step of two tasks: `ask` waits on an interrupt while `side` finishes. Version 2 renames `name` and asks twice. */
function askerV1(store: StorageAdapter, runs: string[]) {
  return new StateGraph({ name: text, answers: appendList, log: appendList })
    .addNode('ask', (s, ctx) => ({ answers: [ctx.interrupt<string>({ question: `call ${s.name}?` })] }))
    .addNode('side', async (s, ctx) => {
      runs.push(`v1 ${s.name}`)
      // A side effect of the finished task: kept across the migration, so not made again when side re-runs.
      const sent = await ctx.effect('notify', () => (runs.push('notify'), 'sent'))
      return { log: [`side v1 ${s.name} ${sent}`] }
    })
    .addEdge(START, 'ask')
    .addEdge(START, 'side')
    .addEdge('ask', END)
    .addEdge('side', END)
    .compile({ checkpointer: store })
}
function askerV2(store: StorageAdapter, runs: string[]) {
  return new StateGraph({ fullName: text, answers: appendList, log: appendList })
    .addNode('ask', (s, ctx) => {
      const call = ctx.interrupt<string>({ question: `call ${s.fullName}?` })
      return { answers: [call, ctx.interrupt<string>({ question: 'sure?' })] }
    })
    .addNode('side', async (s, ctx) => {
      runs.push(`v2 ${s.fullName}`)
      const sent = await ctx.effect('notify', () => (runs.push('notify'), 'sent'))
      return { log: [`side v2 ${s.fullName} ${sent}`] }
    })
    .addEdge(START, 'ask')
    .addEdge(START, 'side')
    .addEdge('ask', END)
    .addEdge('side', END)
    .compile({ checkpointer: store, version: 2, migrations: { 2: migrations[2] } })
}

type Rec = { p?: string; b?: 1; v?: number; s: number }

/** Every checkpoint record of a thread as stored (loose and packed), by id, oldest first. */
async function records(store: StorageAdapter, threadId = 't'): Promise<Map<string, Rec>> {
  const out: [string, Rec][] = []
  for (const [key, raw] of await collect(store.scan(threadId))) {
    if (key.startsWith('c/')) out.push([key.slice(2), JSON.parse(storedText(raw))])
    if (isPackKey(key)) for (const [id, text] of packTexts(await readStored(store, threadId, key, raw))) out.push([id, JSON.parse(text) as Rec])
  }
  return new Map(out.sort((a, b) => (a[0] < b[0] ? -1 : 1)))
}

const dump = async (store: StorageAdapter, threadId = 't') => (await collect(store.scan(threadId))).map(([k, v]): [string, string] => [k, storedText(v)])

describe('state migrations', () => {
  it('a thread written by version 1 continues under version 3: read migrated, the first new record a snapshot of version 3', async () => {
    const store = createMemoryAdapter()
    await counterV1(store, { pause: true }).invoke({ name: ada }, t)
    const old = await counterV1(store).getState(t)
    expect(old.values).toEqual({ name: ada, count: 1 })
    const before = await dump(store)

    const g = counterV3(store)
    const now = await g.getState(t)
    // Migrated on the fly (2 then 3), `tags` from its channel default; the same checkpoint, nothing rewritten.
    expect(now.values).toEqual({ fullName: ADA, count: 1, tags: [] })
    expect(now.config).toEqual(old.config)
    expect(now.next).toEqual(['inc'])
    expect(await dump(store)).toEqual(before)

    expect(await g.invoke(null, t)).toEqual({ fullName: ADA, count: 6, tags: ['inc 2', 'inc 3', 'inc 4', 'inc 5', 'inc 6'] })
    const recs = [...(await records(store)).entries()]
    expect(recs).toHaveLength(2 + 5)
    // Version 1 records carry no version (absent reads as 1); they are stored as they were.
    for (const [, r] of recs.slice(0, 2)) expect('v' in r).toBe(false)
    const stored = new Map(await dump(store))
    for (const [key, value] of before) if (key.startsWith('c/')) expect(stored.get(key)).toBe(value)
    // The first version-3 record is a full snapshot naming its version-1 parent, so no delta spans two versions.
    expect(recs[2]?.[1]).toMatchObject({ p: old.config.checkpointId, b: 1, v: 3 })
    for (const [, r] of recs.slice(2)) expect(r.v).toBe(3)
    // A fresh graph object reads the same.
    expect((await counterV3(store).getState(t)).values.count).toBe(6)
  })

  it('a history mixing three versions shows every checkpoint migrated, in getStateHistory, getState and diff', async () => {
    const store = createMemoryAdapter()
    await counterV1(store, { pause: true }).invoke({ name: ada }, t) // steps 0, 1
    await counterV2(store, { pause: true }).invoke(null, t) // step 2
    await counterV2(store, { pause: true }).invoke(null, t) // step 3
    await counterV3(store).invoke(null, t) // steps 4-6
    expect([...(await records(store)).values()].map((r) => r.v)).toEqual([undefined, undefined, 2, 2, 3, 3, 3])

    const history = (await collect(counterV3(store).getStateHistory(t))).reverse()
    expect(history.map((s) => s.values)).toEqual([
      { fullName: ADA, count: 0, tags: [] },
      { fullName: ADA, count: 1, tags: [] },
      { fullName: ADA, count: 2, tags: [] },
      { fullName: ADA, count: 3, tags: [] },
      { fullName: ADA, count: 4, tags: ['inc 4'] },
      { fullName: ADA, count: 5, tags: ['inc 4', 'inc 5'] },
      { fullName: ADA, count: 6, tags: ['inc 4', 'inc 5', 'inc 6'] },
    ])
    expect(history.map((s) => s.metadata.step)).toEqual([0, 1, 2, 3, 4, 5, 6])
    const at = (step: number) => ({ threadId: 't', checkpointId: history[step]?.config.checkpointId as string })

    // Version 2 code reads what is not newer than itself, migrated to version 2.
    const g2 = counterV2(store)
    expect((await g2.getState(at(1))).values).toEqual({ fullName: ada, count: 1 })
    expect((await g2.getState(at(3))).values).toEqual({ fullName: ada, count: 3 })
    await rejectsWith(collect(g2.getStateHistory(t)), 'VERSION_TOO_NEW')

    // diff compares migrated states: the rename is not a change.
    expect(await counterV3(store).diff(at(1), at(6))).toEqual([
      { op: 'replace', path: '/count', value: 6 },
      { op: 'add', path: '/tags/0', value: 'inc 4' },
      { op: 'add', path: '/tags/1', value: 'inc 5' },
      { op: 'add', path: '/tags/2', value: 'inc 6' },
    ])
    expect(await g2.diff(at(0), at(3))).toEqual([{ op: 'replace', path: '/count', value: 3 }])
  })

  it('a pending interrupt written under version 1 resumes under version 2; finished sibling tasks run again, once, without repeating their effects', async () => {
    const store = createMemoryAdapter()
    const runs: string[] = []
    const [v1, v2] = [askerV1(store, runs), askerV2(store, runs)]

    const stopped = await v1.invoke({ name: ada }, t)
    const [waiting] = stopped.__interrupt__ ?? []
    expect(waiting?.value).toEqual({ question: `call ${ada}?` })
    expect(runs).toEqual([`v1 ${ada}`, 'notify'])
    expect((await v1.getState(t)).tasks.map((x) => x.result)).toEqual([undefined, { log: [`side v1 ${ada} sent`] }])

    // Under version 2 the interrupt still waits, with the same id; side's version-1 writes are not shown: it runs again.
    const seen = await v2.getState(t)
    expect(seen.values).toEqual({ fullName: ada, answers: [], log: [] })
    expect(seen.interrupts).toEqual([waiting])
    expect(seen.next).toEqual(['ask', 'side'])
    expect(seen.tasks.map((x) => x.result)).toEqual([undefined, undefined])

    const again = await v2.invoke(new Command({ resume: { [waiting?.id as string]: 'yes' } }), t)
    expect(again.__interrupt__?.map((i) => i.value)).toEqual([{ question: 'sure?' }])
    expect(runs).toEqual([`v1 ${ada}`, 'notify', `v2 ${ada}`])
    // side's writes were stored by version 2 this time: kept, so side does not run a third time.
    expect(await v2.invoke(new Command({ resume: 'sure' }), t)).toEqual({ fullName: ada, answers: ['yes', 'sure'], log: [`side v2 ${ada} sent`] })
    expect(runs).toEqual([`v1 ${ada}`, 'notify', `v2 ${ada}`])
    // The step's pending writes (both versions') went with the checkpoint that completed it.
    expect((await dump(store)).filter(([k]) => k.startsWith('w/'))).toEqual([])
    const recs = [...(await records(store)).values()]
    expect(recs.map((r) => [r.s, r.v, r.b])).toEqual([
      [0, undefined, 1],
      [1, 2, 1],
    ])
  })

  it('forks and replays a version-1 checkpoint under version 2; old code still reads its own checkpoints', async () => {
    const store = createMemoryAdapter()
    await counterV1(store).invoke({ name: ada }, t)
    const old = (await collect(counterV1(store).getStateHistory(t))).reverse()
    const at = (step: number) => ({ threadId: 't', checkpointId: old[step]?.config.checkpointId as string })

    const g2 = counterV2(store)
    const fork = await g2.updateState(at(2), { fullName: 'grace' }, 'inc')
    const forked = await g2.getState(fork)
    expect(forked.values).toEqual({ fullName: 'grace', count: 2 })
    expect(forked.metadata.source).toBe('fork')
    expect(forked.parentConfig).toEqual(at(2))
    expect((await records(store)).get(fork.checkpointId)).toMatchObject({ p: at(2).checkpointId, b: 1, v: 2 })
    expect(await g2.invoke(null, fork)).toEqual({ fullName: 'grace', count: 6 })

    // A replay from an old checkpoint is a new branch of version 2.
    expect(await g2.invoke(null, at(4))).toEqual({ fullName: ada, count: 6 })
    // The old line, read by version 2: migrated. Read by version 1: as stored, while the head is refused.
    expect((await g2.getState(at(6))).values).toEqual({ fullName: ada, count: 6 })
    expect((await counterV1(store).getState(at(6))).values).toEqual({ name: ada, count: 6 })
    await rejectsWith(counterV1(store).getState(t), 'VERSION_TOO_NEW')
  })

  it('refuses a checkpoint of a newer version with VERSION_TOO_NEW, naming both versions, and writes nothing', async () => {
    const store = createMemoryAdapter()
    await counterV3(store, { pause: true }).invoke({ fullName: ADA }, t)
    const head = (await counterV3(store).getState(t)).config.checkpointId
    const before = await dump(store)
    const g2 = counterV2(store)
    const err = await rejectsWith(g2.getState(t), 'VERSION_TOO_NEW')
    expect(err.message).toBe(`Checkpoint "${head}" of thread "t" has state version 3, newer than this graph's 2: deploy the code of version 3 to read or continue it. Nothing was written.`)
    expect(err.context).toEqual({ threadId: 't', checkpointId: head })
    await rejectsWith(g2.invoke(null, t), 'VERSION_TOO_NEW')
    await rejectsWith(g2.invoke({ count: 1 }, t), 'VERSION_TOO_NEW')
    await rejectsWith(g2.invoke(new Command({ resume: 'x' }), t), 'VERSION_TOO_NEW')
    await rejectsWith(g2.updateState(t, { count: 9 }), 'VERSION_TOO_NEW')
    await rejectsWith(g2.updateState({ threadId: 't', checkpointId: head }, { count: 9 }, 'inc'), 'VERSION_TOO_NEW')
    await rejectsWith(collect(g2.getStateHistory(t)), 'VERSION_TOO_NEW')
    await rejectsWith(g2.diff(t, t), 'VERSION_TOO_NEW')
    await rejectsWith(g2.stream(null, t)[Symbol.asyncIterator]().next(), 'VERSION_TOO_NEW')
    // A graph without a version is version 1.
    await rejectsWith(counterV1(store).invoke(null, t), 'VERSION_TOO_NEW')
    expect(await dump(store)).toEqual(before)
    // The newer code carries on.
    expect((await counterV3(store).invoke(null, t)).count).toBe(6)
  })

  it('packs (packSize 3) hold records of both versions; history reads migrated, also after pruneHistory', async () => {
    const store = createMemoryAdapter()
    const g1 = chatV1(store)
    await g1.invoke({ name: 'ada', messages: ['one'] }, t)
    await g1.invoke({ messages: ['two'] }, t)
    const g2 = chatV2(store)
    await g2.invoke({ messages: ['three'] }, t)
    await g2.invoke({ messages: ['four'] }, t)
    await g2.invoke({ messages: ['five'] }, t)

    const keys = (await dump(store)).map(([k]) => k)
    const packs = await Promise.all(
      keys.filter((k) => isPackKey(k)).map(async (k) => [...packTexts(await readStored(store, 't', k)).values()].map((text) => (JSON.parse(text) as Rec).v ?? 1)),
    )
    expect(packs.length).toBeGreaterThan(2)
    expect(new Set(packs.flat())).toEqual(new Set([1, 2]))
    expect(packs.some((p) => new Set(p).size === 2)).toBe(true)

    const history = (await collect(g2.getStateHistory(t))).reverse()
    expect(history).toHaveLength(20)
    for (const s of history) expect(s.values.fullName).toBe('ada')
    expect(history.map((s) => s.values.messages.length)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20])
    expect(history[19]?.values.messages.slice(16)).toEqual(['five', `re 17 (ada): ${'x'.repeat(40)}`, `re 18 (ada): ${'x'.repeat(40)}`, `re 19 (ada): ${'x'.repeat(40)}`])
    expect(history[4]?.values.messages.slice(0, 5)).toEqual(['one', `re 1: ${'x'.repeat(40)}`, `re 2: ${'x'.repeat(40)}`, `re 3: ${'x'.repeat(40)}`, 'two'])

    // Retention rewrites the oldest kept record as a snapshot of its own version: everything kept reads the same.
    expect(await pruneHistory(store, 't', { keepLast: 14 })).toEqual({ kept: 14, deleted: 6 })
    const recs = [...(await records(store)).values()]
    expect(recs[0]).toMatchObject({ b: 1 })
    expect('v' in (recs[0] as Rec)).toBe(false)
    expect((await collect(chatV2(store).getStateHistory(t))).reverse()).toEqual(history.slice(6))
  })

  it('sync moves old-version records verbatim; the newer side reads them migrated, the older side refuses what it cannot read', async () => {
    const [a, b, remote] = [createMemoryAdapter(), createMemoryAdapter(), createMemoryAdapter()]
    const [syncA, syncB] = [createSync({ local: a, remote }), createSync({ local: b, remote })]
    const ga = chatV1(a)
    await ga.invoke({ name: 'ada', messages: ['one'] }, t)
    await ga.invoke({ messages: ['two'] }, t)
    expect(await syncA.syncThread('t')).toMatchObject({ pushed: 8 })
    expect(await syncB.syncThread('t')).toMatchObject({ pulled: 8 })
    // The records are the ones version 1 wrote, whatever each side packed.
    expect(await records(b)).toEqual(await records(a))
    expect(await records(remote)).toEqual(await records(a))

    const gb = chatV2(b)
    const pulled = (await collect(gb.getStateHistory(t))).reverse()
    const mine = (await collect(ga.getStateHistory(t))).reverse()
    expect(pulled.map((s) => s.config)).toEqual(mine.map((s) => s.config))
    expect(pulled.map((s) => s.values)).toEqual(mine.map(({ values: { name, ...rest } }) => ({ ...rest, fullName: name })))

    // B continues under version 2 and pushes; A, still on version 1, gets the records but refuses to read them.
    await gb.invoke({ messages: ['three'] }, t)
    expect(await syncB.syncThread('t')).toMatchObject({ pushed: 4 })
    expect(await syncA.syncThread('t')).toMatchObject({ pulled: 4 })
    expect(await records(a)).toEqual(await records(b))
    const before = await dump(a)
    await rejectsWith(ga.getState(t), 'VERSION_TOO_NEW')
    await rejectsWith(ga.invoke({ messages: ['from a'] }, t), 'VERSION_TOO_NEW')
    expect(await dump(a)).toEqual(before)
    expect((await ga.getState({ threadId: 't', checkpointId: mine[7]?.config.checkpointId as string })).values.name).toBe('ada')
    // Once A runs version 2 it reads and continues the whole thread.
    expect((await chatV2(a).invoke({ messages: ['four'] }, t)).messages.slice(12)).toEqual(['four', `re 13 (ada): ${'x'.repeat(40)}`, `re 14 (ada): ${'x'.repeat(40)}`, `re 15 (ada): ${'x'.repeat(40)}`])
  })

  it('a pending interrupt synced from a version-1 device is answered on a version-2 device', async () => {
    const [a, b, remote] = [createMemoryAdapter(), createMemoryAdapter(), createMemoryAdapter()]
    const runs: string[] = []
    const [waiting] = (await askerV1(a, runs).invoke({ name: 'ada' }, t)).__interrupt__ ?? []
    await createSync({ local: a, remote }).syncThread('t')
    await createSync({ local: b, remote }).syncThread('t')
    const gb = askerV2(b, runs)
    expect((await gb.getState(t)).interrupts).toEqual([waiting])
    await gb.invoke(new Command({ resume: 'yes' }), t)
    expect(await gb.invoke(new Command({ resume: 'sure' }), t)).toEqual({ fullName: 'ada', answers: ['yes', 'sure'], log: ['side v2 ada sent'] })
    // The effect's result travelled with the pending writes: the other device does not make it again.
    expect(runs).toEqual(['v1 ada', 'notify', 'v2 ada'])
  })

  it('a migration that throws or returns no state fails with INVALID_UPDATE naming it; nothing is written', async () => {
    const store = createMemoryAdapter()
    await counterV1(store, { pause: true }).invoke({ name: 'ada' }, t)
    const before = await dump(store)
    const broken = (migrate: (s: Record<string, unknown>) => Record<string, unknown>) =>
      new StateGraph({ fullName: text, count: { default: () => 0 } })
        .addNode('inc', (s) => ({ count: s.count + 1 }))
        .addEdge(START, 'inc')
        .addEdge('inc', END)
        .compile({ checkpointer: store, version: 2, migrations: { 2: migrate } })
    const thrown = await rejectsWith(
      broken(() => {
        throw new Error('no name')
      }).invoke(null, t),
      'INVALID_UPDATE',
    )
    expect(thrown.message).toMatch(/^migrations\[2\] failed on checkpoint "\w+" of thread "t": no name\. Fix it; nothing was written\.$/)
    expect(thrown.cause).toEqual(new Error('no name'))
    const empty = await rejectsWith(broken(() => null as unknown as Record<string, unknown>).getState(t), 'INVALID_UPDATE')
    expect(empty.message).toContain(': it returned no state object.')
    expect(await dump(store)).toEqual(before)
  })

  it('refuses bad version and migrations options with INVALID_ARGUMENT saying what is wrong', () => {
    const builder = () => new StateGraph({ count: { default: () => 0 } }).addNode('inc', () => ({})).addEdge(START, 'inc').addEdge('inc', END)
    const compile = (options: object) => () => builder().compile(options as never)
    const refused = (options: object, message: string) => expect(compile(options)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(message) }))
    const m = (s: Record<string, unknown>) => s
    refused({ version: 0 }, 'compile options: version must be a whole number ≥ 1, got 0')
    refused({ version: 1.5 }, 'version must be a whole number ≥ 1, got 1.5')
    refused({ version: '2' }, 'version must be a whole number ≥ 1, got "2"')
    refused({ migrations: [m] }, 'migrations must be an object, got an array')
    const needs = (version: number, got: string) => `compile options: migrations must hold a function for each N from 2 to version (${version}), turning state of version N-1 into N, and nothing else; got { ${got} }`
    refused({ version: 3, migrations: { 2: m } }, needs(3, '2: function'))
    refused({ version: 2 }, needs(2, ''))
    refused({ version: 2, migrations: { 2: 'up' } }, needs(2, '2: string'))
    refused({ version: 2, migrations: { 2: m, 3: m } }, needs(2, '2: function, 3: function'))
    refused({ migrations: { 2: m } }, needs(1, '2: function'))
    refused({ version: 2, migrations: { 1: m, 2: m } }, needs(2, '1: function, 2: function'))
    refused({ version: 3, migrations: { up: m, 2: m } }, needs(3, '2: function, up: function'))
    refused({ stateVersion: 2 }, 'option "stateVersion" is not supported')
    expect(compile({ version: 1, migrations: {} })).not.toThrow()
    expect(compile({ version: 3, migrations: { 2: m, 3: m } })).not.toThrow()
  })
})
