/**
 * Where packs are stored: under `a/`, before the records, so that in an ordered store the large, cold packs do not share
 * a page with the head and the newest records; and threads packed by earlier versions (packs under `p/`) read, go on,
 * prune and sync as before.
 */
import { describe, expect, it } from 'vitest'
import { createMemoryAdapter } from '../adapters/memory.js'
import { pruneHistory } from '../src/index.js'
import { createSync } from '../src/sync/index.js'
import type { StorageAdapter } from '../src/checkpoint/adapter.js'
import { isPackKey } from '../src/checkpoint/keys.js'
import { collect } from './conformance/suite.js'
import { over } from './conformance/over.js'
import { chat, historyOf, say } from './sync-helpers.js'

const keysOf = async (store: StorageAdapter, thread: string) => (await collect(store.scan(thread))).map(([k]) => k)

/** The thread as earlier versions stored it: every pack (and its chunks) under `p/` instead of `a/`. Returns how many keys moved. */
async function toLegacy(store: StorageAdapter, thread: string): Promise<number> {
  const put: [string, Uint8Array][] = []
  const del: string[] = []
  for (const [key, value] of await collect(store.scan(thread))) {
    const legacy = key.startsWith('a/') ? `p/${key.slice(2)}` : key.startsWith('k/a/') ? `k/p/${key.slice(4)}` : undefined
    if (legacy === undefined) continue
    put.push([legacy, value])
    del.push(key)
  }
  await store.commit(thread, { put, del })
  return put.length
}

/** A message long enough that steps store deltas (short ones make every checkpoint a snapshot, which never packs). */
const long = (i: number) => `message ${i} ${'lorem ipsum '.repeat(30)}`

/** The messages of the thread's newest state. */
const messagesOf = async (store: StorageAdapter, thread: string) => (await chat(store, 4).getState({ threadId: thread })).values.messages

describe('pack layout', () => {
  it('stores packs before the records: nothing after the first record is a pack', async () => {
    const store = createMemoryAdapter()
    const g = chat(store, 4)
    for (let i = 0; i < 20; i++) await say(g, 't', long(i))
    const keys = await keysOf(store, 't')
    const first = keys.findIndex((k) => k.startsWith('c/'))
    expect(first).toBeGreaterThan(5)
    expect(keys.slice(0, first).every((k) => k.startsWith('a/'))).toBe(true)
    expect(keys.slice(first).filter(isPackKey)).toEqual([])
    expect(keys.at(-1)).toBe('h')
  })

  it('reading a thread whose packs are all a/ asks nothing of the legacy p/ range', async () => {
    const store = createMemoryAdapter()
    for (let i = 0; i < 20; i++) await say(chat(store, 4), 't', long(i))
    const scans: string[] = []
    const recording = over(store, { scan: (thread, range) => (scans.push(range?.from ?? ''), store.scan(thread, range)) })
    expect(await messagesOf(recording, 't')).toHaveLength(40)
    expect(scans.filter((from) => from.startsWith('a/')).length).toBeGreaterThan(0)
    expect(scans.filter((from) => from.startsWith('p/'))).toEqual([])
  })

  it('a thread packed by an earlier version (packs under p/) reads as before, packs on under a/, prunes and syncs', async () => {
    const store = createMemoryAdapter()
    const g = chat(store, 4)
    for (let i = 0; i < 20; i++) await say(g, 't', long(i))
    const before = await historyOf(g, 't')
    expect(await toLegacy(store, 't')).toBeGreaterThan(5)
    expect((await keysOf(store, 't')).filter((k) => k.startsWith('a/'))).toEqual([])

    // A fresh graph reads every checkpoint as it was.
    const legacy = chat(store, 4)
    expect(await historyOf(legacy, 't')).toEqual(before)

    // It goes on: new packs under a/, the old ones stay under p/, each a/ pack newer than every p/ one.
    for (let i = 20; i < 40; i++) await say(legacy, 't', long(i))
    const keys = await keysOf(store, 't')
    const [old, fresh] = [keys.filter((k) => k.startsWith('p/')), keys.filter((k) => k.startsWith('a/'))]
    expect(old.length).toBeGreaterThan(5)
    expect(fresh.length).toBeGreaterThan(5)
    const after = await historyOf(chat(store, 4), 't')
    expect(after.slice(0, before.length)).toEqual(before)
    expect(await messagesOf(store, 't')).toHaveLength(80)

    // Sync: a second device pulls the mixed thread, goes on, and the first pulls that back.
    const [device, remote] = [createMemoryAdapter(), createMemoryAdapter()]
    await createSync({ local: store, remote }).syncThread('t')
    await createSync({ local: device, remote }).syncThread('t')
    expect(await historyOf(chat(device, 4), 't')).toEqual(after)
    for (let i = 40; i < 44; i++) await say(chat(device, 4), 't', long(i))
    await createSync({ local: device, remote }).syncThread('t')
    await createSync({ local: store, remote }).syncThread('t')
    const synced = await historyOf(chat(store, 4), 't')
    expect(synced).toEqual(await historyOf(chat(device, 4), 't'))
    expect(synced.slice(0, after.length)).toEqual(after)

    // Pruning into the legacy packs: a trimmed p/ pack is rewritten under p/ (older than every a/ one), and what is
    // kept reads as it was.
    const keepLast = synced.length - 10
    await pruneHistory(store, 't', { keepLast })
    expect(await historyOf(chat(store, 4), 't')).toEqual(synced.slice(-keepLast))
    expect((await keysOf(store, 't')).filter((k) => k.startsWith('p/')).length).toBeGreaterThan(0)
    expect(await messagesOf(store, 't')).toHaveLength(88)
  })

  it('records synced in that fall inside a legacy pack are merged into it under p/, and every branch reads', async () => {
    const [a, b, remote] = [createMemoryAdapter(), createMemoryAdapter(), createMemoryAdapter()]
    const ga = chat(a, 4)
    for (let i = 0; i < 5; i++) await say(ga, 't', long(i))
    await createSync({ local: a, remote }).syncThread('t')
    // b branches off early, offline: its records are older than most of what a packs next.
    await createSync({ local: b, remote }).syncThread('t')
    await say(chat(b, 4), 't', long(100))
    for (let i = 5; i < 25; i++) await say(ga, 't', long(i))
    await toLegacy(a, 't')
    const packsBefore = (await keysOf(a, 't')).filter((k) => k.startsWith('p/'))
    await createSync({ local: b, remote }).syncThread('t')
    await createSync({ local: a, remote }).syncThread('t')
    const keys = await keysOf(a, 't')
    // b's records went into a's packs (not loose: older than a's newest packed record), which stayed under p/.
    expect(keys.filter((k) => k.startsWith('a/'))).toEqual([])
    expect(keys.filter((k) => k.startsWith('p/'))).toEqual(packsBefore)
    const history = await historyOf(chat(a, 4), 't')
    expect(history).toEqual(await historyOf(chat(remote, 4), 't'))
    const branchTip = (await historyOf(chat(b, 4), 't')).at(-1) as { id: string; values: { messages: string[] } }
    expect(history).toContainEqual(branchTip)
    expect(keys).not.toContain(`c/${branchTip.id}`)
  })
})
