/**
 * @module `edgegraph/encryption`: encryption at rest for any storage adapter, as a wrapper around it.
 *
 * Every value is sealed with AES-256-GCM (WebCrypto) under its thread's own data key, with a fresh 12-byte IV, and the
 * thread id and storage key as additional authenticated data: a value changed, moved to another key or copied to
 * another thread fails to open (`CORRUPT_RECORD`). A thread's data key is made on its first write, wrapped (encrypted)
 * by the current master key, and kept in a key ring next to the thread (or in `keyStore`); destroying it (`shred`)
 * makes every copy of the thread's values unreadable without finding them. The adapter underneath, and a Worker behind
 * the remote adapter, only ever hold ciphertext, wrapped data keys and the storage keys (which name checkpoints).
 *
 *   value:  0x01, data key id (4 bytes), IV (12 bytes), ciphertext with its 16-byte GCM tag
 *   ring:   JSON { v: 1, cur: <data key id>, keys: { <id>: { m: <master key id>, iv, w: <wrapped key> } } }
 */
import { adapterError, conflict, sameBytes, type Batch, type Guard, type ScanRange, type StorageAdapter } from './checkpoint/adapter.js'
import { idOfKey } from './checkpoint/keys.js'
import { corruptRecord } from './checkpoint/read-errors.js'
import { fromBase64, toBase64 } from './checkpoint/serde.js'
import { EdgegraphError, isEdgegraphError } from './errors.js'

/** Where a thread's key ring is kept (in its thread, in the adapter or in `keyStore`). Never listed or readable through the wrapper. */
export const KEY_RING = '~edgegraph/keys'
const SEALED = 0x01
const HEADER = 1 + 4 + 12
const OVERHEAD = HEADER + 16
const utf8 = new TextEncoder()
const text = new TextDecoder()

/** Options of {@link withEncryption}. */
export interface EncryptionOptions {
  /**
   * Master keys by id: AES-GCM `CryptoKey`s of 256 bits with the `encrypt` and `decrypt` usages, or 32 random bytes.
   * Keep every key that has wrapped a data key still stored; `rotate` moves a thread onto `current`.
   */
  keys: Record<string, CryptoKey | Uint8Array>
  /** The id (in `keys`) of the master key that wraps new data keys. */
  current: string
  /**
   * Where the threads' data keys are kept: by default the wrapped adapter itself, next to each thread. Keep them in a
   * separate store (one that is not backed up or synced with the data) when shredding must also reach backups.
   */
  keyStore?: StorageAdapter
}

/** A storage adapter whose values are encrypted; see {@link withEncryption}. */
export interface EncryptedAdapter extends StorageAdapter {
  readonly encrypted: true
  /**
   * Moves a thread onto a fresh data key wrapped by the current master key, re-encrypting every value (plain values of a
   * thread written before encryption was turned on are encrypted too). Older data keys stay in the ring, re-wrapped,
   * so a tab still writing with one stays readable; `dropOld` removes them once no other writer can be using them.
   */
  rotate(threadId: string, options?: { dropOld?: boolean }): Promise<{ values: number }>
  /**
   * Destroys the thread's data keys (crypto-shredding, for a right-to-erasure request): every copy of its values, in
   * this store, a backup of it, the remote or another device, becomes unreadable (`KEY_UNAVAILABLE`). Other running
   * instances drop their in-memory copy of the key when they next reopen the thread (a reload, a new adapter).
   */
  shred(threadId: string): Promise<void>
}

interface DataKey {
  id: string
  key: CryptoKey
  raw: Uint8Array
}

interface Ring {
  /** The ring's stored bytes: the guard of its next change. */
  bytes: Uint8Array
  current: DataKey
  keys: Map<string, DataKey>
}

interface StoredRing {
  v: 1
  cur: string
  keys: Record<string, { m: string; iv: string; w: string }>
}

/**
 * Wraps `adapter` so that everything stored through it is encrypted (AES-256-GCM, per-thread data keys wrapped by a
 * master key). Use it as the checkpointer (or under `createSync`, `createStore`): `compile({ checkpointer:
 * withEncryption(createIndexedDbAdapter(), { keys: { k1 }, current: 'k1' }) })`. Values grow by 33 bytes.
 *
 * @example
 * const k1 = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
 * const adapter = withEncryption(createRemoteAdapter({ url }), { keys: { k1 }, current: 'k1' })
 */
export function withEncryption(adapter: StorageAdapter, options: EncryptionOptions): EncryptedAdapter {
  if (!adapter || typeof adapter.commit !== 'function') throw new EdgegraphError('INVALID_ARGUMENT', 'withEncryption(adapter, options) needs a storage adapter such as createMemoryAdapter()')
  const { keys, current } = options ?? ({} as EncryptionOptions)
  if (!keys || typeof keys !== 'object' || !(current in keys)) {
    throw new EdgegraphError('INVALID_ARGUMENT', `withEncryption: options.current ("${String(current)}") must name one of options.keys (${Object.keys(keys ?? {}).join(', ') || 'none given'})`)
  }
  const masters = new Map<string, Promise<CryptoKey>>()
  for (const [id, key] of Object.entries(keys)) masters.set(id, masterKey(id, key))
  // Unhandled rejections of keys never used would be noise; a bad key is reported when it is first needed.
  for (const m of masters.values()) m.catch(() => undefined)
  const keyStore = options.keyStore ?? adapter
  const name = adapter.name
  const rings = new Map<string, Promise<Ring | undefined>>()
  /** Last stored bytes of guard keys, by thread and key, so a guarded commit does not read the guard key first. */
  const stored = new Map<string, Map<string, { plain: Uint8Array; sealed: Uint8Array }>>()
  const guardKeys = new Set<string>()

  const refuse = (thread: string, key: string) => adapterError(name, 'INVALID_ARGUMENT', `key "${key}" is where withEncryption keeps the thread's data keys; use another key.`, { thread })

  async function loadRing(thread: string): Promise<Ring | undefined> {
    const [bytes] = await keyStore.get(thread, [KEY_RING])
    if (bytes === undefined) return undefined
    let parsed: StoredRing
    try {
      parsed = JSON.parse(text.decode(bytes)) as StoredRing
      if (parsed?.v !== 1 || typeof parsed.keys !== 'object' || !(parsed.cur in parsed.keys)) throw new Error('not a key ring')
    } catch (err) {
      throw new EdgegraphError('CORRUPT_RECORD', `Thread "${thread}": its key ring is corrupt (${(err as Error).message}); its values cannot be read.`, { cause: err, context: { threadId: thread, adapter: name } })
    }
    const ring: Ring = { bytes, current: undefined as unknown as DataKey, keys: new Map() }
    for (const [id, w] of Object.entries(parsed.keys)) {
      const master = masters.get(w.m)
      if (!master) continue // a key wrapped by a master key not given: values under it are KEY_UNAVAILABLE
      let raw: Uint8Array
      try {
        raw = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: ab(fromBase64(w.iv)), additionalData: wrapData(thread, id) }, await master, ab(fromBase64(w.w))))
      } catch (err) {
        if (isEdgegraphError(err)) throw err
        throw new EdgegraphError('CORRUPT_RECORD', `Thread "${thread}": data key ${id} cannot be unwrapped with master key "${w.m}" (a different key under that id, or a changed ring).`, { cause: err, context: { threadId: thread, adapter: name } })
      }
      ring.keys.set(id, { id, raw, key: await importData(raw) })
    }
    const cur = ring.keys.get(parsed.cur)
    if (!cur) throw unavailable(thread, `its current data key is wrapped by master key "${parsed.keys[parsed.cur]?.m}", which is not among the keys given`)
    ring.current = cur
    return ring
  }

  function ringOf(thread: string, reload = false): Promise<Ring | undefined> {
    let ring = rings.get(thread)
    if (!ring || reload) {
      ring = loadRing(thread)
      rings.set(thread, ring)
      ring.catch(() => rings.delete(thread))
    }
    return ring
  }

  /** Stores `keys` as the thread's ring, if the ring is still `expect`; returns the new ring. */
  async function saveRing(thread: string, dataKeys: DataKey[], cur: DataKey, expect: Uint8Array | undefined): Promise<Ring> {
    const bytes = await ringBytes(thread, dataKeys, cur)
    await keyStore.commit(thread, { put: [[KEY_RING, bytes]] }, { key: KEY_RING, expect })
    return cache(thread, bytes, dataKeys, cur)
  }

  function cache(thread: string, bytes: Uint8Array, dataKeys: DataKey[], cur: DataKey): Ring {
    const ring: Ring = { bytes, current: cur, keys: new Map(dataKeys.map((k) => [k.id, k])) }
    rings.set(thread, Promise.resolve(ring))
    return ring
  }

  /** The stored form of a ring of `dataKeys`, each wrapped by the current master key. */
  async function ringBytes(thread: string, dataKeys: DataKey[], cur: DataKey): Promise<Uint8Array> {
    const m = options.current
    const master = await (masters.get(m) as Promise<CryptoKey>)
    const out: StoredRing = { v: 1, cur: cur.id, keys: {} }
    for (const k of dataKeys) {
      const iv = crypto.getRandomValues(new Uint8Array(12))
      const w = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: wrapData(thread, k.id) }, master, ab(k.raw)))
      out.keys[k.id] = { m, iv: toBase64(iv), w: toBase64(w) }
    }
    return utf8.encode(JSON.stringify(out))
  }

  /**
   * The data key new values of `thread` are sealed with, and, on the thread's first write, the ring to store in the same
   * commit (so a refused commit leaves no trace). That commit is guarded: by the caller's guard (two writers making a
   * thread race on it, the loser gets CONFLICT), or else by the ring being absent.
   */
  async function writeKey(thread: string): Promise<{ dataKey: DataKey; ring?: Uint8Array }> {
    const ring = await ringOf(thread)
    if (ring) return { dataKey: ring.current }
    const fresh = await newDataKey()
    return { dataKey: fresh, ring: await ringBytes(thread, [fresh], fresh) }
  }

  async function seal(thread: string, key: string, plain: Uint8Array, dataKey: DataKey): Promise<Uint8Array> {
    const out = new Uint8Array(OVERHEAD + plain.length)
    out[0] = SEALED
    out.set(fromHex(dataKey.id), 1)
    const iv = crypto.getRandomValues(out.subarray(5, HEADER))
    out.set(new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: valueData(thread, key) }, dataKey.key, ab(plain))), HEADER)
    return out
  }

  /** The plain bytes of a stored value; `plainOk` lets values written before encryption through (for `rotate`). */
  async function open(thread: string, key: string, value: Uint8Array, plainOk = false): Promise<Uint8Array> {
    if (value[0] !== SEALED || value.length < OVERHEAD) {
      if (plainOk) return value
      throw corruptRecord(thread, idOfKey(key), `value "${key}" is not encrypted, or is cut short: it was not written through withEncryption`)
    }
    const id = toHex(value.subarray(1, 5))
    let dataKey = (await ringOf(thread))?.keys.get(id)
    // Another instance may have rotated the thread since this one read its ring.
    dataKey ??= (await ringOf(thread, true))?.keys.get(id)
    if (!dataKey) throw unavailable(thread, `data key ${id}, which value "${key}" was written with, is not in its key ring: the thread was shredded, or its values come from another key store`)
    try {
      return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: ab(value.subarray(5, HEADER)), additionalData: valueData(thread, key) }, dataKey.key, ab(value.subarray(HEADER))))
    } catch (err) {
      throw corruptRecord(thread, idOfKey(key), `value "${key}" fails authentication: it was changed, or moved here from another key or thread`, err)
    }
  }

  function unavailable(thread: string, why: string): EdgegraphError {
    return new EdgegraphError('KEY_UNAVAILABLE', `Thread "${thread}" cannot be decrypted: ${why}.`, { context: { threadId: thread, adapter: name } })
  }

  function remember(thread: string, key: string, plain: Uint8Array, sealed: Uint8Array | undefined): void {
    if (!guardKeys.has(key)) return
    let byKey = stored.get(thread)
    if (!byKey) stored.set(thread, (byKey = new Map()))
    if (sealed === undefined) byKey.delete(key)
    else byKey.set(key, { plain, sealed })
  }

  /** The stored bytes a guard on the plain bytes `guard.expect` must compare with; CONFLICT when they differ. */
  async function guardOf(thread: string, guard: Guard): Promise<Guard> {
    guardKeys.add(guard.key)
    if (guard.expect === undefined) return guard
    const known = stored.get(thread)?.get(guard.key)
    if (known && sameBytes(known.plain, guard.expect)) return { key: guard.key, expect: known.sealed }
    const [sealed] = await adapter.get(thread, [guard.key])
    if (sealed === undefined || !sameBytes(await open(thread, guard.key, sealed), guard.expect)) throw conflict(name, thread, guard.key)
    return { key: guard.key, expect: sealed }
  }

  const wrapped: EncryptedAdapter = {
    encrypted: true,
    name,
    limits: { maxValueBytes: adapter.limits.maxValueBytes - OVERHEAD },

    async get(thread, keys) {
      if (keys.includes(KEY_RING)) throw refuse(thread, KEY_RING)
      const values = await adapter.get(thread, keys)
      return Promise.all(values.map(async (v, i) => {
        if (v === undefined) return undefined
        const plain = await open(thread, keys[i] as string, v)
        remember(thread, keys[i] as string, plain, v)
        return plain
      }))
    },

    async *scan(thread, range: ScanRange = {}) {
      // The ring is skipped, so a limited scan over it reads one more entry.
      const overRing = (range.from === undefined || range.from <= KEY_RING) && (range.to === undefined || KEY_RING < range.to)
      let left = range.limit ?? Number.POSITIVE_INFINITY
      for await (const [key, value] of adapter.scan(thread, overRing && range.limit !== undefined ? { ...range, limit: range.limit + 1 } : range)) {
        if (key === KEY_RING) continue
        if (left-- <= 0) return
        yield [key, await open(thread, key, value)]
      }
    },

    async commit(thread, batch: Batch, guard?: Guard) {
      if ((batch.put ?? []).some(([k]) => k === KEY_RING) || (batch.del ?? []).includes(KEY_RING) || guard?.key === KEY_RING) throw refuse(thread, KEY_RING)
      for (const [key, value] of batch.put ?? []) {
        if (!(value instanceof Uint8Array)) throw adapterError(name, 'INVALID_ARGUMENT', `put for key ${JSON.stringify(key)} is not a Uint8Array value. Nothing was written.`, { thread })
        if (value.length > wrapped.limits.maxValueBytes) {
          throw adapterError(name, 'VALUE_TOO_LARGE', `value for "${key}" is ${value.length} bytes, above the ${wrapped.limits.maxValueBytes}-byte limit (${OVERHEAD} bytes of each value go to encryption). Nothing was written.`, { thread })
        }
      }
      for (let attempt = 0; ; attempt++) {
        const { dataKey, ring } = (batch.put ?? []).length > 0 ? await writeKey(thread) : { dataKey: undefined, ring: undefined }
        const put = await Promise.all((batch.put ?? []).map(async ([key, value]): Promise<[string, Uint8Array]> => [key, await seal(thread, key, value, dataKey as DataKey)]))
        let sealedGuard = guard === undefined ? undefined : await guardOf(thread, guard)
        // A new ring goes in the same commit when the commit's guard is free to guard it (so a refused commit leaves no
        // trace); else it is stored first, guarded by being absent, as two writers of different keys could both pass
        // their own guards and one ring would replace the other.
        const inBatch = ring !== undefined && keyStore === adapter && sealedGuard === undefined
        if (ring !== undefined && !inBatch) {
          try {
            await keyStore.commit(thread, { put: [[KEY_RING, ring]] }, { key: KEY_RING, expect: undefined })
          } catch (err) {
            // Another writer made the thread's ring first: seal again with theirs.
            if (attempt > 0 || !isEdgegraphError(err, 'CONFLICT')) throw err
            rings.delete(thread)
            continue
          }
          cache(thread, ring, [dataKey as DataKey], dataKey as DataKey)
        }
        if (inBatch) sealedGuard = { key: KEY_RING, expect: undefined }
        const withRing = inBatch ? [...put, [KEY_RING, ring] as [string, Uint8Array]] : put
        try {
          await adapter.commit(thread, { ...batch, put: withRing }, sealedGuard)
        } catch (err) {
          if (guard) remember(thread, guard.key, new Uint8Array(0), undefined)
          if (inBatch && attempt === 0 && isEdgegraphError(err, 'CONFLICT')) {
            rings.delete(thread)
            continue
          }
          throw err
        }
        if (inBatch) cache(thread, ring as Uint8Array, [dataKey as DataKey], dataKey as DataKey)
        for (const [i, [key, sealed]] of put.entries()) remember(thread, key, (batch.put as [string, Uint8Array][])[i]?.[1] as Uint8Array, sealed)
        for (const key of batch.del ?? []) remember(thread, key, new Uint8Array(0), undefined)
        return
      }
    },

    async deleteThread(thread) {
      await adapter.deleteThread(thread)
      if (keyStore !== adapter) await keyStore.commit(thread, { del: [KEY_RING] })
      rings.delete(thread)
      stored.delete(thread)
    },

    threads: (o) => adapter.threads(o),

    async rotate(thread, rotateOptions = {}) {
      const old = await ringOf(thread, true)
      const fresh = await newDataKey()
      // Old keys stay until every value is re-sealed (and after, unless dropOld): values are read with them meanwhile.
      let ring = await saveRing(thread, [...(old?.keys.values() ?? []), fresh], fresh, old?.bytes)
      let values = 0
      const entries: [string, Uint8Array][] = []
      for await (const entry of adapter.scan(thread)) entries.push(entry)
      for (const [key, value] of entries) {
        if (key === KEY_RING || (value[0] === SEALED && toHex(value.subarray(1, 5)) === fresh.id)) continue
        const plain = await open(thread, key, value, true)
        try {
          // One value at a time, each guarded by itself: a writer that changed it meanwhile wins, nothing is resurrected.
          await adapter.commit(thread, { put: [[key, await seal(thread, key, plain, fresh)]] }, { key, expect: value })
          values++
        } catch (err) {
          if (!isEdgegraphError(err, 'CONFLICT')) throw err
        }
      }
      if (rotateOptions.dropOld && old) ring = await saveRing(thread, [fresh], fresh, ring.bytes)
      stored.delete(thread)
      return { values }
    },

    async shred(thread) {
      await keyStore.commit(thread, { del: [KEY_RING] })
      rings.delete(thread)
      stored.delete(thread)
    },
  }
  if (adapter.lockThread) wrapped.lockThread = adapter.lockThread.bind(adapter)
  if (adapter.subscribe) wrapped.subscribe = adapter.subscribe.bind(adapter)
  return wrapped
}

async function masterKey(id: string, key: CryptoKey | Uint8Array): Promise<CryptoKey> {
  if (key instanceof Uint8Array) {
    if (key.length !== 32) throw new EdgegraphError('INVALID_ARGUMENT', `withEncryption: master key "${id}" is ${key.length} bytes; an AES-256 key is 32 random bytes (crypto.getRandomValues(new Uint8Array(32))).`)
    return crypto.subtle.importKey('raw', ab(key), 'AES-GCM', false, ['encrypt', 'decrypt'])
  }
  const alg = key?.algorithm as { name?: string; length?: number } | undefined
  if (alg?.name !== 'AES-GCM' || alg.length !== 256 || !key.usages.includes('encrypt') || !key.usages.includes('decrypt')) {
    throw new EdgegraphError('INVALID_ARGUMENT', `withEncryption: master key "${id}" must be an AES-GCM CryptoKey of 256 bits with the encrypt and decrypt usages, or 32 raw bytes.`)
  }
  return key
}

async function newDataKey(): Promise<DataKey> {
  const raw = crypto.getRandomValues(new Uint8Array(32))
  return { id: toHex(crypto.getRandomValues(new Uint8Array(4))), raw, key: await importData(raw) }
}

const importData = (raw: Uint8Array): Promise<CryptoKey> => crypto.subtle.importKey('raw', ab(raw), 'AES-GCM', false, ['encrypt', 'decrypt'])
/** WebCrypto's types want bytes over an `ArrayBuffer`; every buffer here is one. */
const ab = (b: Uint8Array): Uint8Array<ArrayBuffer> => b as Uint8Array<ArrayBuffer>
const valueData = (thread: string, key: string): Uint8Array<ArrayBuffer> => ab(utf8.encode(`${thread}\u0000${key}`))
const wrapData = (thread: string, id: string): Uint8Array<ArrayBuffer> => ab(utf8.encode(`edgegraph data key\u0000${thread}\u0000${id}`))
const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
const fromHex = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g) ?? [], (h) => Number.parseInt(h, 16))
