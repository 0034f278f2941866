/** Keep-last-N retention: pruneHistory on a long chat with packs, forks, an open interrupt and chunked values. */
import { beforeAll, describe, expect, it } from 'vitest'
import { Command, END, START, StateGraph, pruneHistory, type StateSnapshot, type StorageAdapter } from '../src/index.js'
import { createMemoryAdapter, type MemoryAdapter } from '../adapters/memory.js'
import { inflateRawSync } from 'node:zlib'
import { appendList, collect, rejectsWith, storedText } from './helpers.js'
import { pruneProperty } from './conformance/retention.js'
import { packTexts } from '../src/checkpoint/record.js'
import { isPackKey } from '../src/checkpoint/keys.js'

const threadId = 'chat'

/** A chat: each user message gets replies until the log holds a multiple of 10; `ask` makes a reply wait for a human. */
function chat(store: StorageAdapter) {
  return new StateGraph({ messages: appendList, summary: { default: () => '' }, ask: { default: () => false }, answer: { default: (): string | null => null } })
    .addNode('reply', (s, ctx) => {
      const n = s.messages.length
      const answer = s.ask ? ctx.interrupt<string>({ question: `continue after ${n}?` }) : undefined
      // Usage on some steps only: the others inherit the branch total from their parent record.
      if (n % 4 === 0) ctx.reportUsage({ inputTokens: n, outputTokens: 1, costUsd: 0.001 })
      // `summary` is overwritten every step, so the snapshot policy stores a full record now and then.
      return { messages: [`reply ${n}: ${'x'.repeat(60)}`], summary: `${n} messages ${'y'.repeat((n % 7) * 30)}`, ...(answer === undefined ? {} : { answer, ask: false }) }
    })
    .addEdge(START, 'reply')
    .addConditionalEdges('reply', (s) => (s.messages.length % 10 === 0 ? END : 'reply'), ['reply', END])
    .compile({ checkpointer: store })
}

interface Source {
  store: MemoryAdapter
  /** The fork whose `reply` waits on an interrupt (pending writes stored on it). */
  waiting: string
}

/** ~330 checkpoints: a main line, a fork continued to its end, and a fork left waiting on an interrupt. */
async function buildHistory(maxValueBytes?: number): Promise<Source> {
  const store = createMemoryAdapter(maxValueBytes === undefined ? {} : { maxValueBytes })
  const g = chat(store)
  for (let i = 0; i < 15; i++) await g.invoke({ messages: [`user ${i}`] }, { threadId, metadata: { turn: i, at: new Date(Date.UTC(2024, 0, i + 1)) } })
  const main = await g.getState({ threadId })
  const old = (await collect(g.getStateHistory({ threadId }))).reverse()
  const forkA = await g.updateState({ threadId, checkpointId: old[20]?.config.checkpointId as string }, { messages: ['fork A'] })
  await g.invoke(null, { threadId, checkpointId: forkA.checkpointId })
  const forkB = await g.updateState({ threadId, checkpointId: old[41]?.config.checkpointId as string }, { ask: true })
  const waiting = await g.invoke(null, { threadId, checkpointId: forkB.checkpointId })
  expect(waiting.__interrupt__).toHaveLength(1)
  await g.invoke({ messages: ['user back'] }, { threadId, checkpointId: main.config.checkpointId })
  for (let i = 15; i < 30; i++) await g.invoke({ messages: [`user ${i}`] }, { threadId })
  return { store, waiting: forkB.checkpointId }
}

/** A copy of a thread on a fresh adapter with the same limits. */
async function copy(from: MemoryAdapter): Promise<MemoryAdapter> {
  const to = createMemoryAdapter({ maxValueBytes: from.limits.maxValueBytes })
  await to.commit(threadId, { put: await collect(from.scan(threadId)) })
  return to
}

const keysOf = async (store: StorageAdapter) => (await collect(store.scan(threadId))).map(([k]) => k)

/** Checks the storage layout: values fit, chunks belong to a marker, packs are named by their oldest record and older than every loose one. */
async function checkLayout(store: MemoryAdapter): Promise<void> {
  const entries = new Map(await collect(store.scan(threadId)))
  // A compressed pack (`z`, checksum, deflate-raw bytes) is inflated here; the others are text after their checksum.
  const unpack = (raw: Uint8Array) => (raw[0] === 0x7a ? inflateRawSync(raw.subarray(5)).toString('utf8') : storedText(raw))
  const text = (key: string) => {
    const raw = entries.get(key) as Uint8Array
    const marker = new TextDecoder().decode(raw)
    if (!marker.startsWith('#')) return unpack(raw)
    const parts = Array.from({ length: Number(marker.slice(1)) }, (_, i) => entries.get(`k/${key}/${String(i).padStart(4, '0')}`) as Uint8Array)
    return unpack(Buffer.concat(parts))
  }
  for (const [key, value] of entries) {
    expect(value.length, key).toBeLessThanOrEqual(store.limits.maxValueBytes)
    if (!key.startsWith('k/')) continue
    const owner = key.slice(2, key.lastIndexOf('/'))
    const marker = entries.get(owner)
    expect(marker && new TextDecoder().decode(marker), `chunk ${key} has no owner`).toMatch(/^#\d+$/)
    expect(Number(key.slice(key.lastIndexOf('/') + 1))).toBeLessThan(Number(new TextDecoder().decode(marker).slice(1)))
  }
  const loose = [...entries.keys()].filter((k) => k.startsWith('c/')).map((k) => k.slice(2))
  let previous = ''
  for (const key of [...entries.keys()].filter((k) => isPackKey(k))) {
    const ids = [...packTexts(text(key)).keys()]
    expect(ids.length).toBeGreaterThan(0)
    expect(key).toBe(`a/${ids[0]}`)
    expect(ids).toEqual([...ids].sort())
    expect(ids[0] as string > previous).toBe(true)
    previous = ids.at(-1) as string
    for (const id of loose) expect(id > previous).toBe(true)
  }
}

/** Ids the prune must keep: the newest `keepLast`, the head, and those with pending writes. */
async function expectedKept(store: MemoryAdapter, history: StateSnapshot<unknown>[], keepLast: number): Promise<string[]> {
  const ids = history.map((s) => s.config.checkpointId)
  const pending = new Set((await keysOf(store)).filter((k) => k.startsWith('w/')).map((k) => k.split('/')[1]))
  const head = storedText((await store.get(threadId, ['h']))[0] as Uint8Array)
  return ids.filter((id, i) => i < keepLast || id === head || pending.has(id))
}

describe('pruneHistory', () => {
  const sources: Record<string, Source> = {}
  beforeAll(async () => {
    sources.plain = await buildHistory()
    sources.chunked = await buildHistory(512)
  })

  it('builds a history with packs, chunks, forks and a waiting interrupt (the cases below rely on it)', async () => {
    for (const { store, waiting } of Object.values(sources)) {
      const keys = await keysOf(store)
      expect(keys.filter((k) => isPackKey(k)).length).toBeGreaterThanOrEqual(3)
      expect(keys.filter((k) => k.startsWith(`w/${waiting}/`))).toHaveLength(1)
      const history = await collect(chat(store).getStateHistory({ threadId }))
      expect(history.length).toBeGreaterThan(300)
      expect(history.filter((s) => s.metadata.source === 'fork').length).toBeGreaterThanOrEqual(3)
      await checkLayout(store)
    }
    expect((await keysOf(sources.chunked?.store as MemoryAdapter)).some((k) => k.startsWith('k/a/'))).toBe(true)
    expect((await keysOf(sources.chunked?.store as MemoryAdapter)).some((k) => k.startsWith('k/c/'))).toBe(true)
  })

  for (const kind of ['plain', 'chunked']) {
    for (const keepLast of [1, 5, 64, 65, 200]) {
      it(`keepLast ${keepLast} (${kind}): keeps exactly the newest, the head and the waiting fork, each loading as before`, async () => {
        const { store: source, waiting } = sources[kind] as Source
        const ref = chat(source)
        const before = await collect(ref.getStateHistory({ threadId }))
        const kept = await expectedKept(source, before, keepLast)
        expect(kept).toContain(waiting)
        const store = await copy(source)
        const g = chat(store)

        expect(await pruneHistory(store, threadId, { keepLast })).toEqual({ kept: kept.length, deleted: before.length - kept.length })
        await checkLayout(store)
        const after = await collect(g.getStateHistory({ threadId }))
        expect(after.map((s) => s.config.checkpointId)).toEqual(kept)
        for (const s of after) {
          const expected = await ref.getState(s.config)
          expect(s).toStrictEqual(expected)
          expect(await g.getState(s.config)).toStrictEqual(expected)
        }
        for (const s of before.filter((b) => !kept.includes(b.config.checkpointId)).slice(0, 20)) await rejectsWith(g.getState(s.config), 'CHECKPOINT_NOT_FOUND')

        // Idempotent: nothing more to delete, nothing written.
        const dump = await collect(store.scan(threadId))
        expect(await pruneHistory(store, threadId, { keepLast })).toEqual({ kept: kept.length, deleted: 0 })
        expect(await collect(store.scan(threadId))).toStrictEqual(dump)
      })
    }

    it(`after pruning (${kind}), the thread continues, forks, resumes its interrupt and packs like the unpruned one`, async () => {
      const { store: source, waiting } = sources[kind] as Source
      const ref = chat(await copy(source))
      const store = await copy(source)
      const g = chat(store)
      await pruneHistory(store, threadId, { keepLast: 1 })
      const oldest = (await collect(g.getStateHistory({ threadId }))).at(-1) as StateSnapshot<unknown>
      expect(oldest.config.checkpointId).toBe(waiting)

      for (const graph of [ref, g]) {
        await graph.invoke(new Command({ resume: 'go on' }), { threadId, checkpointId: waiting })
        const head = await graph.getState({ threadId })
        await graph.updateState({ threadId, checkpointId: waiting }, { messages: ['late fork'] })
        await graph.invoke({ messages: ['back on main'] }, { threadId, checkpointId: head.config.checkpointId })
        for (let i = 0; i < 12; i++) await graph.invoke({ messages: [`more ${i}`] }, { threadId })
      }
      const [a, b] = [await collect(ref.getStateHistory({ threadId })), await collect(g.getStateHistory({ threadId }))]
      const strip = (s: StateSnapshot<unknown>) => ({ values: s.values, next: s.next, step: s.metadata.step, source: s.metadata.source })
      // Everything but the two kept old checkpoints (the head before, and the fork that waited) is new.
      const fresh = b.length - 2
      expect(fresh).toBeGreaterThan(130)
      expect(b.slice(0, fresh).map(strip)).toStrictEqual(a.slice(0, fresh).map(strip))
      expect(b.find((s) => s.metadata.source === 'fork' && (s.values as { messages: string[] }).messages.at(-1) === 'late fork')).toBeDefined()
      expect((b[0]?.values as { answer: string }).answer).toBe('go on')
      // Over 130 new checkpoints on one chain: the run packed them again.
      expect((await keysOf(store)).filter((k) => isPackKey(k)).length).toBeGreaterThan(0)
      await checkLayout(store)
      for (const s of b.slice(0, 40)) expect(await g.getState(s.config)).toStrictEqual(s)
    })
  }

  it('random histories pruned to a random keepLast keep exactly what they should (fast-check, plain and chunked)', async () => {
    await pruneProperty(async () => createMemoryAdapter(), 40)
    await pruneProperty(async () => createMemoryAdapter({ maxValueBytes: 512 }), 40)
  }, 60_000)

  it('fails with CONFLICT and changes nothing when a run commits while it prunes', async () => {
    const store = await copy((sources.plain as Source).store)
    let seen: [string, Uint8Array][] = []
    const racing: StorageAdapter = {
      ...store,
      commit: async (thread, batch, guard) => {
        await chat(store).invoke({ messages: ['meanwhile'] }, { threadId })
        seen = await collect(store.scan(threadId))
        return store.commit(thread, batch, guard)
      },
    }
    await rejectsWith(pruneHistory(racing, threadId, { keepLast: 5 }), 'CONFLICT')
    expect(await collect(store.scan(threadId))).toStrictEqual(seen)
    expect(await pruneHistory(store, threadId, { keepLast: 5 })).toMatchObject({ kept: 6 })
  })

  it('does nothing on a short thread or an unknown one', async () => {
    const store = createMemoryAdapter()
    await chat(store).invoke({ messages: ['hi'] }, { threadId })
    const dump = await collect(store.scan(threadId))
    const count = (await collect(chat(store).getStateHistory({ threadId }))).length
    expect(count).toBe(10)
    expect(await pruneHistory(store, threadId, { keepLast: 10 })).toEqual({ kept: 10, deleted: 0 })
    expect(await pruneHistory(store, threadId, { keepLast: 500 })).toEqual({ kept: 10, deleted: 0 })
    expect(await collect(store.scan(threadId))).toStrictEqual(dump)
    expect(await pruneHistory(store, 'nobody', { keepLast: 1 })).toEqual({ kept: 0, deleted: 0 })
  })

  it('rejects a keepLast that is not an integer of at least 1, naming the thread', async () => {
    const store = createMemoryAdapter()
    for (const keepLast of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '5', undefined]) {
      const err = await rejectsWith(pruneHistory(store, threadId, { keepLast } as { keepLast: number }), 'INVALID_ARGUMENT')
      expect(err.message).toContain('keepLast')
      expect(err.message).toContain(`"${threadId}"`)
    }
    await rejectsWith(pruneHistory({} as StorageAdapter, threadId, { keepLast: 1 }), 'INVALID_ARGUMENT')
  })
})
