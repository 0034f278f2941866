/**
 * Encryption at rest (issue 13): withEncryption over the memory adapter and over the remote adapter (a real HTTP
 * server with the Worker's storage API): the conformance suite with encryption on, ciphertext only underneath, values
 * bound to their thread and key, master keys by id and rotation, crypto-shredding (right to erasure), sync.
 */
import { describe, expect, it } from 'vitest'
import { END, START, StateGraph, type StorageAdapter } from '../src/index.js'
import { KEY_RING, withEncryption, type EncryptionOptions } from '../src/encryption.js'
import { createSync } from '../src/sync/index.js'
import { workerRemote } from '../src/sync/http.js'
import { createMemoryAdapter, type MemoryAdapter } from '../adapters/memory.js'
import { createRemoteAdapter } from '../adapters/remote.js'
import { storageApi } from '../worker/storage-api.js'
import { runConformance } from './conformance/index.js'
import { appendList, collect, rejectsWith } from './helpers.js'
import { serveApps } from './http-apps.js'

const raw = (seed: number) => Uint8Array.from({ length: 32 }, (_, i) => (seed * 31 + i * 7) & 0xff)
const keys = { k1: raw(1) }
const opts: EncryptionOptions = { keys, current: 'k1' }

runConformance({
  name: 'memory (encrypted)',
  create: () => withEncryption(createMemoryAdapter(), opts),
  createSmall: () => withEncryption(createMemoryAdapter({ maxValueBytes: 4096 + 33 }), opts),
  createWithQuota: (quotaBytes) => withEncryption(createMemoryAdapter({ quotaBytes }), opts),
})

const { mount } = serveApps()

function remoteOver(backing: StorageAdapter, maxValueBytes?: number): StorageAdapter {
  const url = mount(storageApi(() => backing, {}))
  return createRemoteAdapter({ url, ...(maxValueBytes === undefined ? {} : { maxValueBytes }) })
}

runConformance({
  name: 'remote (encrypted in the client)',
  create: () => withEncryption(remoteOver(createMemoryAdapter()), opts),
  createSmall: () => withEncryption(remoteOver(createMemoryAdapter({ maxValueBytes: 4096 }), 4096), opts),
  createWithQuota: (quotaBytes) => withEncryption(remoteOver(createMemoryAdapter({ quotaBytes })), opts),
  propertyRuns: 10,
})

/** A chat: every turn appends a user message and the assistant's answer. */
function chat(adapter: StorageAdapter) {
  return new StateGraph({ messages: appendList })
    .addNode('answer', (s) => ({ messages: [`assistant: you said "${(s.messages.at(-1) as string).slice(6)}"`] }))
    .addEdge(START, 'answer')
    .addEdge('answer', END)
    .compile({ checkpointer: adapter })
}

/** Every stored byte of a memory adapter (all threads, keys and values) as Latin-1 text, to search for plaintext. */
async function everything(memory: MemoryAdapter): Promise<string> {
  let out = ''
  for await (const { thread } of memory.threads()) for await (const [key, value] of memory.scan(thread)) out += `${thread} ${key} ${Buffer.from(value).toString('latin1')}\n`
  return out
}

const SECRET = 'my card number is 4111-1111-1111-1111'

describe('withEncryption', () => {
  it('stores ciphertext only: no message text in any stored byte, the thread reads back and goes on', async () => {
    const memory = createMemoryAdapter()
    const graph = chat(withEncryption(memory, opts))
    await graph.invoke({ messages: [`user: ${SECRET}`] }, { threadId: 't' })
    await graph.invoke({ messages: ['user: and my name is Ada Lovelace'] }, { threadId: 't' })
    const stored = await everything(memory)
    for (const plain of ['4111', 'Ada Lovelace', 'assistant', 'messages', 'answer']) expect(stored).not.toContain(plain)
    const fresh = chat(withEncryption(memory, opts))
    expect((await fresh.getState({ threadId: 't' })).values.messages).toEqual([`user: ${SECRET}`, `assistant: you said "${SECRET}"`, 'user: and my name is Ada Lovelace', 'assistant: you said "and my name is Ada Lovelace"'])
    // Every value is sealed: 0x01, the data key id, the IV, ciphertext and tag.
    for (const [key, value] of await collect(memory.scan('t'))) if (key !== KEY_RING) expect({ key, first: value[0] }).toEqual({ key, first: 1 })
    // A fresh IV per value: the same plain bytes never seal alike.
    const m2 = createMemoryAdapter()
    const a = withEncryption(m2, opts)
    await a.commit('x', { put: [['a', new Uint8Array([1, 2, 3])]] })
    const first = (await m2.get('x', ['a']))[0] as Uint8Array
    await a.commit('x', { put: [['a', new Uint8Array([1, 2, 3])]] })
    const second = (await m2.get('x', ['a']))[0] as Uint8Array
    expect(Buffer.from(first.subarray(5, 17)).equals(Buffer.from(second.subarray(5, 17)))).toBe(false)
    expect(Buffer.from(first).equals(Buffer.from(second))).toBe(false)
    expect(await a.get('x', ['a'])).toEqual([new Uint8Array([1, 2, 3])])
  })

  it('binds each value to its thread and key: moved to another key or copied to another thread, it is CORRUPT_RECORD', async () => {
    const memory = createMemoryAdapter()
    const graph = chat(withEncryption(memory, opts))
    await graph.invoke({ messages: ['user: one'] }, { threadId: 't' })
    await graph.invoke({ messages: ['user: two'] }, { threadId: 't' })
    const records = (await collect(memory.scan('t', { from: 'c/', to: 'c0' }))) as [string, Uint8Array][]
    const [oldest, newest] = [records[0] as [string, Uint8Array], records.at(-1) as [string, Uint8Array]]
    // The newest record replaced by the oldest one's bytes: a valid ciphertext, but for another key.
    await memory.commit('t', { put: [[newest[0], oldest[1]]] })
    const err = await rejectsWith(chat(withEncryption(memory, opts)).getState({ threadId: 't' }), 'CORRUPT_RECORD')
    expect(err.message).toContain('moved here from another key or thread')
    expect(err.context).toMatchObject({ threadId: 't', checkpointId: newest[0].slice(2) })
    await memory.commit('t', { put: [[newest[0], newest[1]]] })
    expect((await chat(withEncryption(memory, opts)).getState({ threadId: 't' })).values.messages).toHaveLength(4)
    // The whole thread copied under another id (ring included): every value fails to open there.
    for (const [key, value] of await collect(memory.scan('t'))) await memory.commit('copy', { put: [[key, value]] })
    await rejectsWith(chat(withEncryption(memory, opts)).getState({ threadId: 'copy' }), 'CORRUPT_RECORD')
    // One flipped byte of ciphertext, tag or IV.
    for (const at of [5, 20, newest[1].length - 1]) {
      const bad = new Uint8Array(newest[1])
      bad[at] = (bad[at] as number) ^ 0x40
      await memory.commit('t', { put: [[newest[0], bad]] })
      await rejectsWith(chat(withEncryption(memory, opts)).getState({ threadId: 't' }), 'CORRUPT_RECORD')
    }
  })

  it('refuses plain values, its own key ring key, and bad keys', async () => {
    const memory = createMemoryAdapter()
    await chat(memory).invoke({ messages: ['user: plain'] }, { threadId: 'plain' })
    const err = await rejectsWith(chat(withEncryption(memory, opts)).getState({ threadId: 'plain' }), 'CORRUPT_RECORD')
    expect(err.message).toContain('not encrypted')
    const enc = withEncryption(createMemoryAdapter(), opts)
    await rejectsWith(enc.commit('t', { put: [[KEY_RING, new Uint8Array(1)]] }), 'INVALID_ARGUMENT')
    await rejectsWith(enc.get('t', [KEY_RING]), 'INVALID_ARGUMENT')
    expect(() => withEncryption(memory, { keys, current: 'k9' })).toThrow(/must name one of options.keys \(k1\)/)
    const short = withEncryption(createMemoryAdapter(), { keys: { k1: new Uint8Array(16) }, current: 'k1' })
    expect((await rejectsWith(short.commit('t', { put: [['a', new Uint8Array(1)]] }), 'INVALID_ARGUMENT')).message).toContain('32 random bytes')
    const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    await rejectsWith(withEncryption(createMemoryAdapter(), { keys: { k1: hmac }, current: 'k1' }).commit('t', { put: [['a', new Uint8Array(1)]] }), 'INVALID_ARGUMENT')
    // A different key under the same id cannot unwrap the thread's data key.
    await chat(withEncryption(memory, opts)).invoke({ messages: ['user: hi'] }, { threadId: 'e' })
    await rejectsWith(chat(withEncryption(memory, { keys: { k1: raw(2) }, current: 'k1' })).getState({ threadId: 'e' }), 'CORRUPT_RECORD')
    // No key under that id at all.
    expect((await rejectsWith(chat(withEncryption(memory, { keys: { k2: raw(2) }, current: 'k2' })).getState({ threadId: 'e' }), 'KEY_UNAVAILABLE')).message).toContain('master key "k1"')
  })

  it('rotates: threads written under k1 stay readable with k2 current; rotate moves a thread onto a fresh data key wrapped by k2', async () => {
    const memory = createMemoryAdapter()
    await chat(withEncryption(memory, opts)).invoke({ messages: ['user: before rotation'] }, { threadId: 't' })
    const both = withEncryption(memory, { keys: { k1: raw(1), k2: raw(2) }, current: 'k2' })
    const graph = chat(both)
    await graph.invoke({ messages: ['user: during'] }, { threadId: 't' })
    await graph.invoke({ messages: ['user: new thread'] }, { threadId: 'n' })
    const ringOf = async (t: string) => JSON.parse(new TextDecoder().decode((await memory.get(t, [KEY_RING]))[0])) as { cur: string; keys: Record<string, { m: string }> }
    expect(Object.values((await ringOf('t')).keys).map((k) => k.m)).toEqual(['k1'])
    expect(Object.values((await ringOf('n')).keys).map((k) => k.m)).toEqual(['k2'])
    const before = await collect(graph.getStateHistory({ threadId: 't' }))

    const { values } = await both.rotate('t')
    const ring = await ringOf('t')
    expect(Object.values(ring.keys).map((k) => k.m)).toEqual(['k2', 'k2'])
    expect(values).toBe((await collect(memory.scan('t'))).length - 1)
    for (const [key, value] of await collect(memory.scan('t'))) if (key !== KEY_RING) expect(Buffer.from(value.subarray(1, 5)).toString('hex'), key).toBe(ring.cur)
    // k1 can go now: the thread reads with k2 alone, exactly as before, and goes on.
    const k2only = chat(withEncryption(memory, { keys: { k2: raw(2) }, current: 'k2' }))
    expect(await collect(k2only.getStateHistory({ threadId: 't' }))).toStrictEqual(before)
    await k2only.invoke({ messages: ['user: after'] }, { threadId: 't' })
    await withEncryption(memory, { keys: { k2: raw(2) }, current: 'k2' }).rotate('t', { dropOld: true })
    expect(Object.keys((await ringOf('t')).keys)).toHaveLength(1)
    expect((await k2only.getState({ threadId: 't' })).values.messages.at(-1)).toBe('assistant: you said "after"')
  })

  it('rotate encrypts a thread written before encryption was turned on', async () => {
    const memory = createMemoryAdapter()
    await chat(memory).invoke({ messages: [`user: ${SECRET}`] }, { threadId: 'old' })
    const enc = withEncryption(memory, opts)
    await enc.rotate('old')
    expect(await everything(memory)).not.toContain('4111')
    expect((await chat(enc).getState({ threadId: 'old' })).values.messages[0]).toBe(`user: ${SECRET}`)
  })

  it('crypto-shredding: after shred, every copy (the store, a backup, another device, the remote) is unreadable and holds no plaintext', async () => {
    // Data keys kept apart from the data (keyStore), as a right-to-erasure setup does: backups of the data hold no key.
    const keyStore = createMemoryAdapter()
    const server = createMemoryAdapter()
    const device = withEncryption(remoteOver(server), { ...opts, keyStore })
    const graph = chat(device)
    await graph.invoke({ messages: [`user: ${SECRET}`] }, { threadId: 'alice' })
    await graph.invoke({ messages: ['user: other user'] }, { threadId: 'bob' })
    // A backup of the server's storage, byte for byte, and a second device on the same remote.
    const backup = createMemoryAdapter()
    for (const { thread } of await collect(server.threads())) for (const [key, value] of await collect(server.scan(thread))) await backup.commit(thread, { put: [[key, value]] })
    const other = chat(withEncryption(remoteOver(server), { ...opts, keyStore }))
    expect((await other.getState({ threadId: 'alice' })).values.messages[0]).toBe(`user: ${SECRET}`)

    await device.shred('alice')
    for (const store of [server, backup]) {
      expect(await everything(store)).not.toContain('4111')
      const err = await rejectsWith(chat(withEncryption(store, { ...opts, keyStore })).getState({ threadId: 'alice' }), 'KEY_UNAVAILABLE')
      expect(err.message).toContain('shredded')
    }
    await rejectsWith(chat(withEncryption(remoteOver(server), { ...opts, keyStore })).getState({ threadId: 'alice' }), 'KEY_UNAVAILABLE')
    // Bob is untouched.
    expect((await chat(withEncryption(backup, { ...opts, keyStore })).getState({ threadId: 'bob' })).values.messages).toHaveLength(2)
  })

  it('shred with the data keys next to the thread (the default): the thread is unreadable everywhere it is read from', async () => {
    const memory = createMemoryAdapter()
    const enc = withEncryption(memory, opts)
    await chat(enc).invoke({ messages: [`user: ${SECRET}`] }, { threadId: 't' })
    await enc.shred('t')
    expect(await collect(memory.scan('t', { from: KEY_RING, to: `${KEY_RING}~` }))).toEqual([])
    await rejectsWith(chat(enc).getState({ threadId: 't' }), 'KEY_UNAVAILABLE')
    await rejectsWith(chat(withEncryption(memory, opts)).getState({ threadId: 't' }), 'KEY_UNAVAILABLE')
    // A new run cannot build on what it cannot read.
    await rejectsWith(chat(enc).invoke({ messages: ['user: again'] }, { threadId: 't' }), 'KEY_UNAVAILABLE')
  })

  it('two writers making a thread first agree on one data key', async () => {
    const memory = createMemoryAdapter()
    const a = withEncryption(memory, opts)
    const b = withEncryption(memory, opts)
    await Promise.all([a.commit('t', { put: [['x', new Uint8Array([1])]] }), b.commit('t', { put: [['y', new Uint8Array([2])]] })])
    const c = withEncryption(memory, opts)
    expect(await c.get('t', ['x', 'y'])).toEqual([new Uint8Array([1]), new Uint8Array([2])])
  })

  it('sync: an encrypted local store syncs with an encrypted remote adapter (ciphertext on the server); workerRemote is refused', async () => {
    const server = createMemoryAdapter()
    const local = withEncryption(createMemoryAdapter(), opts)
    await chat(local).invoke({ messages: [`user: ${SECRET}`] }, { threadId: 's' })
    const sync = createSync({ local, remote: withEncryption(remoteOver(server), opts) })
    const result = await sync.syncThread('s')
    expect(result.pushed).toBeGreaterThan(0)
    expect(await everything(server)).not.toContain('4111')
    const second = withEncryption(createMemoryAdapter(), opts)
    await createSync({ local: second, remote: withEncryption(remoteOver(server), opts) }).syncThread('s')
    expect((await chat(second).getState({ threadId: 's' })).values.messages[0]).toBe(`user: ${SECRET}`)
    expect(() => createSync({ local, remote: workerRemote({ url: 'https://agents.example.com' }) })).toThrow(/ciphertext only/)
  })
})
