/**
 * Compressed packs (issue 15): packs of text that at least halves under deflate are stored compressed through the
 * platform's CompressionStream; everything reads as it did uncompressed, damage is CORRUPT_RECORD, random text is
 * left as it is, and a platform without CompressionStream stores packs plain.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { END, START, StateGraph, isEdgegraphError, type StorageAdapter } from '../src/index.js'
import { createMemoryAdapter, type MemoryAdapter } from '../adapters/memory.js'
import { fnv1a } from '../src/checkpoint/storage.js'
import { collect } from './helpers.js'
import { isPackKey } from '../src/checkpoint/keys.js'

const T = 'zip'
const SENTENCE = 'The agent looked at the plan again and asked the user whether the second step should run before the first. '

/** A chat of `n` turns, each message 500 bytes: natural-language-like text, or random printable characters. */
function chat(adapter: StorageAdapter, n: number, random = false) {
  let seed = 7
  const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
  const message = (i: number) => (random ? Array.from({ length: 500 }, () => String.fromCharCode(0x20 + Math.floor(next() * 95))).join('') : `${i}: ${SENTENCE.repeat(6)}`.slice(0, 500))
  return new StateGraph({ messages: { default: (): string[] => [], reducer: (a: string[], b: string[]) => a.concat(b) } })
    .addNode('chat', (s) => ({ messages: [message(s.messages.length)] }))
    .addEdge(START, 'chat')
    .addConditionalEdges('chat', (s) => (s.messages.length >= n ? END : 'chat'))
    .compile({ checkpointer: { adapter, packSize: 16 } })
}

async function entries(store: MemoryAdapter): Promise<[string, Uint8Array][]> {
  return collect(store.scan(T))
}

const saved = globalThis.CompressionStream
afterEach(() => {
  globalThis.CompressionStream = saved
})

describe('compressed packs', () => {
  it('a chat of natural text stores its packs compressed (below half the raw bytes) and reads as an uncompressed store does', async () => {
    const zipped = createMemoryAdapter()
    await chat(zipped, 200).invoke({ messages: [] }, { threadId: T, recursionLimit: 300 })
    const packs = (await entries(zipped)).filter(([k]) => isPackKey(k))
    expect(packs.length).toBeGreaterThanOrEqual(10)
    for (const [key, value] of packs) expect(String.fromCharCode(value[0] as number), key).toBe('z')
    expect(zipped.bytes()).toBeLessThan(200 * 500 * 0.5)

    // The same run on a platform without CompressionStream: plain packs, the same history.
    globalThis.CompressionStream = undefined as never
    const plain = createMemoryAdapter()
    await chat(plain, 200).invoke({ messages: [] }, { threadId: T, recursionLimit: 300 })
    for (const [key, value] of (await entries(plain)).filter(([k]) => isPackKey(k))) expect(String.fromCharCode(value[0] as number), key).toBe('$')
    expect(plain.bytes()).toBeGreaterThan(200 * 500)
    globalThis.CompressionStream = saved

    const shape = async (store: MemoryAdapter) => (await collect(chat(store, 200).getStateHistory({ threadId: T }))).map((s) => [s.metadata.step, s.values.messages])
    expect(await shape(zipped)).toEqual(await shape(plain))
    expect((await chat(zipped, 200).getState({ threadId: T })).values.messages).toHaveLength(200)
    // A fork from inside a compressed pack runs on from there.
    const history = await collect(chat(zipped, 200).getStateHistory({ threadId: T }))
    const old = history.find((s) => s.metadata.step === 20)
    expect((await chat(zipped, 25).invoke(null, { threadId: T, checkpointId: old?.config.checkpointId as string, recursionLimit: 50 })).messages).toHaveLength(25)
  })

  it('random text is stored as it is, without trying: compressing it would not halve it', async () => {
    // Counted: a compression costs the run about a millisecond of its thread in Node, for nothing on random text.
    let tried = 0
    globalThis.CompressionStream = class extends saved {
      constructor(format: CompressionFormat) {
        super(format)
        tried++
      }
    }
    const store = createMemoryAdapter()
    await chat(store, 100, true).invoke({ messages: [] }, { threadId: T, recursionLimit: 200 })
    const packs = (await entries(store)).filter(([k]) => isPackKey(k))
    expect(packs.length).toBeGreaterThanOrEqual(5)
    for (const [key, value] of packs) expect(String.fromCharCode(value[0] as number), key).toBe('$')
    expect(tried).toBe(0)
    // Natural text is tried, and compressed, pack after pack.
    await chat(createMemoryAdapter(), 100).invoke({ messages: [] }, { threadId: T, recursionLimit: 200 })
    expect(tried).toBeGreaterThanOrEqual(5)
  })

  it('a compressed pack split into chunks reads back whole', async () => {
    const store = createMemoryAdapter({ maxValueBytes: 256 })
    await chat(store, 120).invoke({ messages: [] }, { threadId: T, recursionLimit: 200 })
    const all = await entries(store)
    expect(all.some(([k]) => k.startsWith('k/a/'))).toBe(true)
    const packMarkers = all.filter(([k]) => isPackKey(k))
    expect(packMarkers.length).toBeGreaterThan(0)
    const state = await chat(store, 120).getState({ threadId: T })
    expect(state.values.messages).toHaveLength(120)
    expect(await collect(chat(store, 120).getStateHistory({ threadId: T }))).toHaveLength(121)
  })

  it('a damaged compressed pack is CORRUPT_RECORD naming the thread (300 flips and cuts)', async () => {
    const source = createMemoryAdapter()
    await chat(source, 60).invoke({ messages: [] }, { threadId: T, recursionLimit: 100 })
    const all = await entries(source)
    const [packKey, pack] = all.find(([k]) => isPackKey(k)) as [string, Uint8Array]
    expect(pack[0]).toBe(0x7a)
    let seed = 3
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n)
    for (let i = 0; i < 300; i++) {
      // Two in three damages flip a bit; the third cuts the value short.
      const damaged = Uint8Array.from(pack)
      const at = rand(pack.length)
      if (i % 3 !== 2) damaged[at] = (damaged[at] as number) ^ (1 << rand(8))
      const cut = i % 3 === 2 ? damaged.subarray(0, 1 + rand(pack.length - 2)) : damaged
      const store = createMemoryAdapter()
      await store.commit(T, { put: all.map(([k, v]) => [k, k === packKey ? cut : v]) })
      const g = chat(store, 60)
      // The newest state needs every record back to the first: the damaged pack included.
      const err = await g.getState({ threadId: T }).then(() => undefined, (e: unknown) => e)
      expect(isEdgegraphError(err, 'CORRUPT_RECORD'), `damage ${i}: ${String(err)}`).toBe(true)
      expect((err as { context?: Record<string, string> }).context?.threadId).toBe(T)
    }
  })

  it('a compressed pack whose checksum holds but whose bytes do not inflate is CORRUPT_RECORD, not a crash', async () => {
    const source = createMemoryAdapter()
    await chat(source, 40).invoke({ messages: [] }, { threadId: T, recursionLimit: 100 })
    const all = await entries(source)
    const [packKey] = all.find(([k]) => isPackKey(k)) as [string, Uint8Array]
    const garbage = new TextEncoder().encode('this is not deflate data at all, but it has a good checksum')
    const forged = new Uint8Array(garbage.length + 5)
    forged[0] = 0x7a
    new DataView(forged.buffer).setUint32(1, fnv1a(garbage))
    forged.set(garbage, 5)
    const store = createMemoryAdapter()
    await store.commit(T, { put: all.map(([k, v]) => [k, k === packKey ? forged : v]) })
    const err = await chat(store, 40).getState({ threadId: T }).then(() => undefined, (e: unknown) => e)
    expect(isEdgegraphError(err, 'CORRUPT_RECORD'), String(err)).toBe(true)
    expect((err as Error).message).toMatch(/do not decompress/)
  })
})
