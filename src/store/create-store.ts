/**
 * @module `createStore`: the {@link Store} contract kept in one reserved thread of any storage adapter, one
 * guarded commit per write, values through the checkpoint serde and split into chunks above the adapter's limit.
 */
/*
 * An item's record is UTF-8 JSON `{"c":createdAt,"u":updatedAt,"v":<serde tree>}` at its key (keys.ts). A record
 * above `limits.maxValueBytes` is stored as a header `{"c","u","n":chunks,"t":tag}` plus the serde tree's bytes in
 * `n` chunk keys named after `t`, a tag fresh for every write. Each write is guarded by the bytes of the record it
 * replaces, so writers of different items never conflict, a writer that lost a race on one item reads it again and
 * retries, and a reader that finds a chunk gone (the item was rewritten meanwhile) reads the item again.
 */
import { sameBytes, type Batch, type ScanRange, type StorageAdapter } from '../checkpoint/adapter.js'
import { decodeValue, encodeValue } from '../checkpoint/serde.js'
import { fnv1a, openText, sealText } from '../checkpoint/storage.js'
import { EdgegraphError, isEdgegraphError } from '../errors.js'
import { checkFilter, matches } from './filter.js'
import { afterOwnItems, afterSubtree, chunkKeys, itemKey, parseItemKey, prefixRange } from './keys.js'
import { checkKey, checkNamespace, invalid, meets, type MatchCondition } from './namespace.js'
import type { Item, ListNamespacesOperation, ListNamespacesOptions, Operation, OperationResults, PutOperation, SearchOperation, SearchOptions, Store } from './store.js'

/** Options of {@link createStore}. */
export interface StoreOptions {
  /**
   * Which store of the adapter (default `'default'`); it lives in the thread `.store/<name>`. Letters, digits and
   * `. _ : - /` (as the Worker's thread ids), with no empty, `.` or `..` part between slashes.
   */
  name?: string
}

/** Every store's thread starts with this. Graph threads must not: name them without a leading `.store/`. */
export const STORE_THREAD_PREFIX = '.store/'

/** Longest stored item key: the Worker takes keys up to 1024 characters, and chunk keys add a few. */
const MAX_KEY_CHARS = 1000
/** Tries of a write that keeps losing races on its item, or of a read whose chunks keep being replaced. */
const MAX_ATTEMPTS = 10
const NAME = /^[A-Za-z0-9._:-]+(\/[A-Za-z0-9._:-]+)*$/

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

interface StoredRecord {
  c: number
  u: number
  v?: unknown
  n?: number
  t?: string
  /** Checksum (FNV-1a) of the chunks' bytes joined. */
  h?: number
}

/** A checked put of a batch: where it goes and its serialized value (`undefined`: a delete). */
interface Write {
  stored: string
  call: string
  text: string | undefined
}

/**
 * Creates a {@link Store} (LangGraph's `BaseStore`: cross-thread memory) kept in `adapter`, the same adapter graphs
 * use as their checkpointer if you like: the store lives in its own thread, `.store/<name>`, and neither sees the
 * other's keys. Named as edgegraph's other factories (`createXxx`) after LangGraph's word for it, "store".
 *
 * @example
 * import { createStore } from 'edgegraph/store'
 * const store = createStore(createIndexedDBAdapter({ name: 'my-app' }))
 * await store.put(['memories', userId], 'food', { likes: ['ramen'] })
 * const found = await store.search(['memories', userId], { filter: { likes: { $ne: null } } })
 */
export function createStore(adapter: StorageAdapter, options: StoreOptions = {}): Store {
  if (!adapter || typeof adapter.commit !== 'function' || typeof adapter.scan !== 'function') {
    throw new EdgegraphError('INVALID_ARGUMENT', 'createStore: pass a storage adapter such as createMemoryAdapter() or createIndexedDBAdapter(...).')
  }
  const name = options.name ?? 'default'
  const thread = `${STORE_THREAD_PREFIX}${name}`
  if (typeof name !== 'string' || !NAME.test(name) || name.split('/').some((p) => p === '.' || p === '..') || thread.length > 200) {
    throw new EdgegraphError('INVALID_ARGUMENT', `createStore: name ${JSON.stringify(name)} must be letters, digits and ". _ : - /" (at most ${200 - STORE_THREAD_PREFIX.length} characters, no empty, "." or ".." part between slashes).`)
  }
  return new AdapterStore(adapter, thread)
}

class AdapterStore implements Store {
  readonly #adapter: StorageAdapter
  readonly thread: string

  constructor(adapter: StorageAdapter, thread: string) {
    this.#adapter = adapter
    this.thread = thread
  }

  async get<V extends Record<string, unknown>>(namespace: readonly string[], key: string): Promise<Item<V> | null> {
    const stored = this.#checkedKey('get', namespace, key)
    const [raw] = await this.#get([stored])
    return (await this.#load(stored, raw)) as Item<V> | null
  }

  async put(namespace: readonly string[], key: string, value: object, index?: false): Promise<void> {
    const write = this.#checkPut({ namespace: namespace as string[], key, value: value as PutOperation['value'], ...(index === undefined ? {} : { index }) }, 'put')
    await this.#write(write)
  }

  async delete(namespace: readonly string[], key: string): Promise<void> {
    await this.#write(this.#checkPut({ namespace: namespace as string[], key, value: null }, 'delete'))
  }

  async search<V extends Record<string, unknown>>(namespacePrefix: readonly string[], options: SearchOptions = {}): Promise<Item<V>[]> {
    const op = { ...options, namespacePrefix: namespacePrefix as string[] }
    this.#checkSearch(op)
    return (await this.#search(op)) as Item<V>[]
  }

  async listNamespaces(options: ListNamespacesOptions = {}): Promise<string[][]> {
    const { prefix, suffix, maxDepth, limit = 100, offset = 0 } = options
    const matchConditions: MatchCondition[] = []
    if (prefix !== undefined) matchConditions.push({ matchType: 'prefix', path: prefix })
    if (suffix !== undefined) matchConditions.push({ matchType: 'suffix', path: suffix })
    const op: ListNamespacesOperation = { matchConditions, limit, offset, ...(maxDepth === undefined ? {} : { maxDepth }) }
    this.#checkList(op)
    return this.#list(op)
  }

  async batch<const Ops extends readonly Operation[]>(operations: Ops): Promise<OperationResults<Ops>> {
    if (!Array.isArray(operations)) throw invalid('batch', 'pass an array of operations.')
    // Everything is checked and serialized first, so a bad operation anywhere writes nothing.
    const steps = operations.map((op: Operation, i): (() => Promise<unknown>) | Write => {
      const call = `batch (operation ${i})`
      if (op === null || typeof op !== 'object') throw invalid(call, 'an operation must be an object.')
      if ('namespacePrefix' in op) {
        this.#checkSearch(op, call)
        return () => this.#search(op)
      }
      if ('value' in op) return this.#checkPut(op, call)
      if ('namespace' in op && 'key' in op) {
        const stored = this.#checkedKey(call, op.namespace, op.key)
        return async () => this.#load(stored, (await this.#get([stored]))[0])
      }
      if ('limit' in op && 'offset' in op) {
        this.#checkList(op, call)
        return () => this.#list(op)
      }
      throw invalid(call, 'not an operation: give { namespace, key } (get), { namespace, key, value } (put), { namespacePrefix } (search) or { limit, offset } (list namespaces).')
    })
    const results: unknown[] = []
    for (const step of steps) results.push(typeof step === 'function' ? await step() : undefined)
    const writes = new Map<string, Write>()
    for (const step of steps) if (typeof step !== 'function') writes.set(step.stored, step)
    for (const write of writes.values()) await this.#write(write)
    return results as OperationResults<Ops>
  }

  // --- checks -------------------------------------------------------------------------------------------------

  #checkedKey(call: string, namespace: unknown, key: unknown, forWrite = false): string {
    checkNamespace(call, namespace, { forWrite })
    checkKey(call, key)
    const stored = itemKey(namespace, key)
    if (stored.length > MAX_KEY_CHARS) {
      throw invalid(call, `namespace and key take ${stored.length} characters once encoded for storage, above ${MAX_KEY_CHARS}: shorten them (a non-ASCII character takes 6 to 12).`)
    }
    return stored
  }

  #checkPut(op: PutOperation, call: string): Write {
    const { namespace, key, value } = op
    const stored = this.#checkedKey(call, namespace, key, value !== null)
    if (op.index !== undefined && op.index !== false) throw invalid(call, 'index must be false or left out: semantic search (and so indexing fields for it) is not supported.')
    if (value === null) return { stored, call, text: undefined }
    const proto = value !== null && typeof value === 'object' ? Object.getPrototypeOf(value) : undefined
    if (proto !== Object.prototype && proto !== null) throw invalid(call, `the value must be a plain object (its fields are what search filters on), got ${Array.isArray(value) ? 'an array' : typeof value}.`)
    let tree: unknown
    try {
      tree = encodeValue(value, { channel: 'value', path: [] })
    } catch (err) {
      if (!isEdgegraphError(err, 'UNSERIALIZABLE')) throw err
      const what = / holds (.+?), which cannot be stored/.exec(err.message)?.[1]
      const why = what === undefined ? err.message : `holds ${what}, which cannot be stored: keep values to JSON plus Date, Map, Set, BigInt, Uint8Array and undefined.`
      throw new EdgegraphError('UNSERIALIZABLE', `store.${call}: the value for ${JSON.stringify(namespace)} / ${JSON.stringify(key)} ${why} Nothing was written.`, { cause: err })
    }
    return { stored, call, text: JSON.stringify(tree) }
  }

  #checkSearch(op: SearchOperation, call = 'search'): void {
    checkNamespace(call, op.namespacePrefix, { allowEmpty: true })
    if (op.query !== undefined) throw invalid(call, 'semantic search (query) is not supported: search by namespace prefix and filter instead.')
    checkFilter(call, op.filter)
    checkCount(call, 'limit', op.limit)
    checkCount(call, 'offset', op.offset)
  }

  #checkList(op: ListNamespacesOperation, call = 'listNamespaces'): void {
    for (const c of op.matchConditions ?? []) {
      if (c?.matchType !== 'prefix' && c?.matchType !== 'suffix') throw invalid(call, 'a match condition is { matchType: "prefix" | "suffix", path }.')
      checkNamespace(call, c.path, { allowEmpty: true })
    }
    if (op.maxDepth !== undefined && (!Number.isSafeInteger(op.maxDepth) || op.maxDepth < 1)) throw invalid(call, `maxDepth must be a whole number of at least 1, got ${String(op.maxDepth)}.`)
    checkCount(call, 'limit', op.limit)
    checkCount(call, 'offset', op.offset)
  }

  // --- reads --------------------------------------------------------------------------------------------------

  async #search(op: SearchOperation): Promise<Item[]> {
    const { filter, limit = 10 } = op
    let skip = op.offset ?? 0
    const out: Item[] = []
    if (limit === 0) return out
    const range: ScanRange = prefixRange(op.namespacePrefix)
    if (filter === undefined) range.limit = skip + limit
    for await (const [stored, raw] of this.#scan(range)) {
      // Without a filter, skipped items need not be read whole.
      if (filter === undefined && skip > 0) {
        skip--
        continue
      }
      const item = await this.#load(stored, raw)
      if (item === null || !matches(item.value, filter)) continue
      if (skip > 0) skip--
      else if (out.push(item) === limit) break
    }
    return out
  }

  /**
   * Namespaces in order, found by skipping through the keys: one short scan per namespace listed or passed over,
   * never one per item.
   */
  async #list(op: ListNamespacesOperation): Promise<string[][]> {
    const { maxDepth, limit } = op
    const conditions = op.matchConditions ?? []
    let skip = op.offset
    const out: string[][] = []
    // The labels of the first prefix condition before any '*' bound the scan.
    const path = conditions.find((c) => c.matchType === 'prefix')?.path ?? []
    const star = path.indexOf('*')
    const { from: start, to } = prefixRange(star < 0 ? path : path.slice(0, star))
    let from = start
    while (out.length < limit) {
      let stored: string | undefined
      for await (const [key] of this.#scan({ from, to, limit: 1 })) stored = key
      if (stored === undefined) break
      const { namespace } = this.#parseKey(stored)
      const shown = maxDepth === undefined ? namespace : namespace.slice(0, maxDepth)
      if (conditions.every((c) => meets(c, namespace))) {
        if (skip > 0) skip--
        else out.push(shown)
        // Everything under a namespace cut to maxDepth would be listed as it again.
        from = maxDepth !== undefined && namespace.length >= maxDepth ? afterSubtree(shown) : afterOwnItems(namespace)
      } else from = afterOwnItems(namespace)
    }
    return out
  }

  /** The item whose record is `raw` at `stored`; null when there is none (or it was deleted while being read). */
  async #load(stored: string, raw: Uint8Array | undefined): Promise<Item | null> {
    for (let attempt = 1; raw !== undefined; attempt++) {
      const record = this.#parse(stored, raw)
      if (record.n === undefined) return this.#item(stored, record, record.v)
      const parts = await this.#get(chunkKeys(stored, record.t as string, record.n))
      const missing = parts.indexOf(undefined)
      if (missing < 0) {
        const bytes = new Uint8Array(parts.reduce((n, p) => n + (p as Uint8Array).length, 0))
        let at = 0
        for (const part of parts as Uint8Array[]) {
          bytes.set(part, at)
          at += part.length
        }
        if (record.h !== undefined && record.h !== fnv1a(bytes)) throw this.#corrupt(stored, 'checksum mismatch: the bytes of its chunks changed')
        let tree: unknown
        try {
          tree = JSON.parse(utf8Strict.decode(bytes))
        } catch (err) {
          throw this.#corrupt(stored, 'its chunks do not hold JSON', err)
        }
        return this.#item(stored, record, tree)
      }
      // A chunk is gone: the item was replaced or deleted after its record was read, unless the record is still there.
      const [again] = await this.#get([stored])
      if (again !== undefined && sameBytes(again, raw)) throw this.#corrupt(stored, `chunk ${missing + 1} of ${record.n} is missing`)
      if (attempt === MAX_ATTEMPTS) throw this.#busy(stored, 'read', 'no stable version could be read')
      raw = again
    }
    return null
  }

  #parse(stored: string, raw: Uint8Array): StoredRecord {
    let record: StoredRecord
    // Checksummed as history values are (one written before checksums is read as it is).
    const text = openText(raw)
    if (!text) throw this.#corrupt(stored, 'checksum mismatch: its stored bytes changed')
    try {
      record = JSON.parse(utf8Strict.decode(text)) as StoredRecord
    } catch (err) {
      throw this.#corrupt(stored, 'its record is not JSON', err)
    }
    const chunked = record?.n !== undefined
    if (typeof record?.c !== 'number' || typeof record.u !== 'number' || (chunked && (!Number.isSafeInteger(record.n) || typeof record.t !== 'string' || (record.h !== undefined && typeof record.h !== 'number')))) {
      throw this.#corrupt(stored, 'its record is not an item record')
    }
    return record
  }

  #item(stored: string, record: StoredRecord, tree: unknown): Item {
    const { namespace, key } = this.#parseKey(stored)
    let value: unknown
    try {
      value = decodeValue(tree)
    } catch (err) {
      throw this.#corrupt(stored, 'its value cannot be decoded', err)
    }
    if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) throw this.#corrupt(stored, 'its value is not an object')
    return { value: value as Record<string, unknown>, key, namespace, createdAt: new Date(record.c), updatedAt: new Date(record.u) }
  }

  #parseKey(stored: string): { namespace: string[]; key: string } {
    try {
      return parseItemKey(stored)
    } catch (err) {
      throw this.#corrupt(stored, 'its key is not one the store writes', err)
    }
  }

  // --- writes -------------------------------------------------------------------------------------------------

  /** Puts or deletes one item in one commit guarded by the record it replaces, reading again after a lost race. */
  async #write({ stored, call, text }: Write): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const [old] = await this.#get([stored])
      let previous: StoredRecord | undefined
      try {
        previous = old === undefined ? undefined : this.#parse(stored, old)
      } catch {
        // A corrupt record is replaced like any other (its chunks, if any, cannot be found to be deleted).
      }
      const batch: Required<Batch> = { put: [], del: [] }
      if (previous?.n !== undefined) batch.del.push(...chunkKeys(stored, previous.t as string, previous.n))
      if (text === undefined) {
        if (old === undefined) return
        batch.del.push(stored)
      } else {
        const now = Date.now()
        batch.put = this.#records(stored, previous?.c ?? now, now, text, previous?.t)
      }
      try {
        await this.#adapter.commit(this.thread, batch, { key: stored, expect: old })
        return
      } catch (err) {
        if (!isEdgegraphError(err, 'CONFLICT')) throw this.#wrap(err, true)
        if (attempt === MAX_ATTEMPTS) throw this.#busy(stored, call, 'nothing was written by this call')
      }
    }
  }

  /** The values that store an item: its record, or a chunk header and the chunks when the record is too large. */
  #records(stored: string, created: number, updated: number, text: string, oldTag: string | undefined): [string, Uint8Array][] {
    const max = this.#adapter.limits.maxValueBytes
    const whole = sealText(`{"c":${created},"u":${updated},"v":${text}}`)
    if (whole.length <= max) return [[stored, whole]]
    const body = utf8.encode(text)
    const n = Math.ceil(body.length / max)
    let t: string
    do t = Array.from(crypto.getRandomValues(new Uint8Array(5)), (b) => b.toString(16).padStart(2, '0')).join('')
    while (t === oldTag)
    const puts: [string, Uint8Array][] = [[stored, sealText(JSON.stringify({ c: created, u: updated, n, t, h: fnv1a(body) }))]]
    chunkKeys(stored, t, n).forEach((key, i) => puts.push([key, body.subarray(i * max, (i + 1) * max)]))
    return puts
  }

  // --- the adapter --------------------------------------------------------------------------------------------

  async #get(keys: string[]): Promise<(Uint8Array | undefined)[]> {
    try {
      return await this.#adapter.get(this.thread, keys)
    } catch (err) {
      throw this.#wrap(err)
    }
  }

  async *#scan(range: ScanRange): AsyncIterable<[string, Uint8Array]> {
    try {
      yield* this.#adapter.scan(this.thread, range)
    } catch (err) {
      throw this.#wrap(err)
    }
  }

  #wrap(err: unknown, write = false): unknown {
    if (isEdgegraphError(err)) return err
    const name = this.#adapter.name
    // A write that failed without a typed answer may have landed before the failure: say so.
    const outcome = write ? 'The write may or may not have landed: get the item before repeating the call.' : 'Nothing was written.'
    return new EdgegraphError('STORAGE_FAILED', `The ${name} adapter failed for store "${this.thread}": ${(err as Error)?.message ?? String(err)}. ${outcome}`, {
      cause: err,
      context: { threadId: this.thread, adapter: name },
    })
  }

  #corrupt(stored: string, why: string, cause?: unknown): EdgegraphError {
    return new EdgegraphError('CORRUPT_RECORD', `Store "${this.thread}": the item at key "${stored}" is corrupt: ${why}. Other items stay readable; put or delete this one to replace it.`, {
      cause,
      context: { threadId: this.thread, adapter: this.#adapter.name },
    })
  }

  #busy(stored: string, call: string, outcome: string): EdgegraphError {
    return new EdgegraphError('CONFLICT', `store.${call}: the item at key "${stored}" of store "${this.thread}" changed ${MAX_ATTEMPTS} times while this call tried; ${outcome}. Retry later.`, {
      context: { threadId: this.thread, adapter: this.#adapter.name },
    })
  }
}

function checkCount(call: string, name: string, value: unknown): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || (value as number) < 0)) throw invalid(call, `${name} must be a whole number of at least 0, got ${String(value)}.`)
}
