/**
 * @module Reading the LangGraph bridge's history: one namespace's records walked newest first in one reverse scan,
 * each doc rebuilt from the nearest snapshot (or a doc already rebuilt) forward, and the pending writes read along
 * in a second scan in the same order, so listing a namespace reads each value once.
 */
import type { StorageAdapter } from '../checkpoint/adapter.js'
import { corruptRecord } from '../checkpoint/read-errors.js'
import type { ChunkedStorage } from '../checkpoint/storage.js'
import { applyRecord, recordHead, type Loaded } from './doc.js'
import { encodedId, parseRecordKey, parseWriteKey, recordKey, recordRange, writeKeyId } from './keys.js'

/** Recently read or written docs, by thread, namespace and checkpoint id, so a run's next put finds its parent. */
export class DocCache {
  readonly #entries = new Map<string, Loaded>()
  readonly #max: number

  constructor(max = 64) {
    this.#max = max
  }

  get(thread: string, ns: string, id: string): Loaded | undefined {
    const key = JSON.stringify([thread, ns, id])
    const hit = this.#entries.get(key)
    if (hit) {
      this.#entries.delete(key)
      this.#entries.set(key, hit)
    }
    return hit
  }

  set(thread: string, ns: string, id: string, loaded: Loaded): void {
    const key = JSON.stringify([thread, ns, id])
    this.#entries.delete(key)
    this.#entries.set(key, loaded)
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string)
  }

  /** Forgets a thread (deleted), or one namespace of it (a checkpoint was stored again). */
  drop(thread: string, ns?: string): void {
    const prefix = JSON.stringify(ns === undefined ? [thread] : [thread, ns]).slice(0, -1)
    for (const key of [...this.#entries.keys()]) if (key.startsWith(prefix)) this.#entries.delete(key)
  }
}

/** A record as read, before it is rebuilt into a doc. */
interface Scanned {
  text: string
}

/**
 * The records of one namespace of one thread below `upper` (a checkpoint id, exclusive; everything when undefined),
 * pulled newest first from one reverse scan as they are needed, and rebuilt into docs.
 */
export class NamespaceReader {
  readonly #storage: ChunkedStorage
  readonly #thread: string
  readonly #threadId: string
  readonly #ns: string
  readonly #cache: DocCache
  readonly #scan: AsyncIterator<[string, Uint8Array]>
  /** Ids pulled from the scan, newest first, and their records (until rebuilt). */
  readonly #order: string[] = []
  readonly #records = new Map<string, Scanned>()
  /** Docs rebuilt during this read, until they are handed out. */
  readonly #docs = new Map<string, Loaded>()
  #low: string | undefined
  #done = false

  constructor(storage: ChunkedStorage, thread: string, threadId: string, ns: string, cache: DocCache, upper?: { id: string; inclusive: boolean }) {
    this.#storage = storage
    this.#thread = thread
    this.#threadId = threadId
    this.#ns = ns
    this.#cache = cache
    const range = recordRange(ns)
    if (upper) range.to = upper.inclusive ? `${recordKey(ns, upper.id)}\u0000` : recordKey(ns, upper.id)
    this.#scan = storage.scan(thread, { ...range, reverse: true })[Symbol.asyncIterator]()
  }

  /** The checkpoint ids of the range, newest first. */
  async *ids(): AsyncGenerator<string> {
    for (let i = 0; ; i++) {
      while (i >= this.#order.length && !this.#done) await this.#pull()
      const id = this.#order[i]
      if (id === undefined) return
      yield id
    }
  }

  /** The doc of checkpoint `id` (undefined when it is not stored), rebuilt from the nearest snapshot or known doc. */
  async load(id: string): Promise<Loaded | undefined> {
    const chain: [string, ReturnType<typeof recordHead>, number][] = []
    let base: Loaded | undefined
    const seen = new Set<string>()
    for (let cur = id; ; ) {
      base = this.#docs.get(cur) ?? this.#cache.get(this.#thread, this.#ns, cur)
      if (base) break
      const scanned = await this.#record(cur)
      if (scanned === undefined) {
        if (chain.length === 0) return undefined
        throw this.#corrupt(id, `its ancestor "${cur}" is missing`)
      }
      if (seen.has(cur)) throw this.#corrupt(id, 'its records form a cycle')
      seen.add(cur)
      let head: ReturnType<typeof recordHead>
      try {
        head = recordHead(scanned.text)
      } catch (err) {
        throw this.#corrupt(cur, (err as Error).message, err)
      }
      chain.push([cur, head, scanned.text.length])
      if (head.snapshot) break
      cur = head.parent as string
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const [cur, head, bytes] = chain[i] as (typeof chain)[number]
      let doc
      try {
        doc = applyRecord(head.record, head.snapshot ? undefined : base?.doc)
      } catch (err) {
        throw this.#corrupt(cur, (err as Error).message, err)
      }
      base = { doc, parent: head.parent, chain: (head.snapshot ? 0 : (base?.chain ?? 0)) + bytes }
      this.#docs.set(cur, base)
      this.#records.delete(cur)
    }
    this.#cache.set(this.#thread, this.#ns, id, base as Loaded)
    return base
  }

  /** Lets go of a doc handed out (its children, newer, were read before it). */
  release(id: string): void {
    this.#docs.delete(id)
  }

  async close(): Promise<void> {
    await this.#scan.return?.()
  }

  /** The record of `id`: from the scan when it is still ahead, else read directly. */
  async #record(id: string): Promise<Scanned | undefined> {
    const enc = encodedId(id)
    while (!this.#records.has(id) && !this.#done && (this.#low === undefined || enc < this.#low)) await this.#pull()
    const scanned = this.#records.get(id)
    if (scanned) return scanned
    const key = recordKey(this.#ns, id)
    const [raw] = await this.#storage.call(this.#thread, (a: StorageAdapter) => a.get(this.#thread, [key]))
    return raw === undefined ? undefined : { text: await this.#storage.text(this.#thread, key, raw) }
  }

  async #pull(): Promise<void> {
    const next = await this.#scan.next()
    if (next.done) {
      this.#done = true
      return
    }
    const [key, raw] = next.value
    let id: string
    try {
      id = parseRecordKey(key).id
    } catch (err) {
      throw corruptRecord(this.#threadId, key, (err as Error).message, err)
    }
    this.#low = key.slice(key.indexOf('!') + 1)
    this.#order.push(id)
    this.#records.set(id, { text: await this.#storage.text(this.#thread, key, raw) })
  }

  #corrupt(id: string, what: string, cause?: unknown) {
    return corruptRecord(this.#threadId, id, `namespace ${JSON.stringify(this.#ns)}: ${what}`, cause)
  }
}

/** A pending write as stored, before its value is read. */
export interface StoredWrite {
  task: string
  idx: number
  text: string
}

/**
 * The pending writes of one namespace, read newest checkpoint first in one reverse scan: `of(id)` for ids in
 * decreasing order returns each checkpoint's writes.
 */
export class WritesReader {
  readonly #storage: ChunkedStorage
  readonly #thread: string
  readonly #threadId: string
  readonly #scan: AsyncIterator<[string, Uint8Array]>
  #ahead: [key: string, raw: Uint8Array] | undefined
  #done = false

  constructor(storage: ChunkedStorage, thread: string, threadId: string, range: { from: string; to: string }) {
    this.#storage = storage
    this.#thread = thread
    this.#threadId = threadId
    this.#scan = storage.scan(thread, { ...range, reverse: true })[Symbol.asyncIterator]()
  }

  /** The writes against checkpoint `id`; ids must come in decreasing order. */
  async of(id: string): Promise<StoredWrite[]> {
    const enc = encodedId(id)
    const out: StoredWrite[] = []
    for (;;) {
      if (!this.#ahead) {
        if (this.#done) return out
        const next = await this.#scan.next()
        if (next.done) {
          this.#done = true
          return out
        }
        this.#ahead = next.value
      }
      const [key, raw] = this.#ahead
      const at = writeKeyId(key)
      if (at < enc) return out
      this.#ahead = undefined
      if (at !== enc) continue
      let parsed: ReturnType<typeof parseWriteKey>
      try {
        parsed = parseWriteKey(key)
      } catch (err) {
        throw corruptRecord(this.#threadId, id, (err as Error).message, err)
      }
      out.push({ task: parsed.task, idx: parsed.idx, text: await this.#storage.text(this.#thread, key, raw) })
    }
  }

  async close(): Promise<void> {
    await this.#scan.return?.()
  }
}
