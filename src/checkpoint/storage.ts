/**
 * @module The history layer's access to an adapter: every call wrapped so a foreign error becomes a typed
 * `STORAGE_FAILED` naming the adapter, and values stored as UTF-8 text, split into chunks above the adapter's limit.
 */
import { EdgegraphError, isEdgegraphError } from '../errors.js'
import type { Batch, Guard, ScanRange, StorageAdapter } from './adapter.js'
import { HEAD_KEY, chunkKeys, idOfKey } from './keys.js'
import { corruptHead, corruptRecord } from './read-errors.js'
import { isCheckpointId } from './ids.js'

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })
const CHUNK_MARK = 0x23 // '#': a chunked value holds `#<count>`, its bytes are in `k/<key>/<n>`

/** The adapter of a graph's history, as the history layer uses it. */
export class ChunkedStorage {
  readonly adapter: StorageAdapter

  constructor(adapter: StorageAdapter) {
    if (!adapter || typeof adapter.commit !== 'function' || typeof adapter.scan !== 'function') {
      throw new EdgegraphError('INVALID_ARGUMENT', 'checkpointer must be a storage adapter such as createMemoryAdapter(), or { adapter, ...options }')
    }
    this.adapter = adapter
  }

  /** Runs an adapter call, turning foreign errors into `STORAGE_FAILED` that names the adapter. */
  async call<T>(threadId: string, fn: (adapter: StorageAdapter) => Promise<T>): Promise<T> {
    try {
      return await fn(this.adapter)
    } catch (err) {
      throw this.#wrap(threadId, err)
    }
  }

  async *scan(threadId: string, range: ScanRange): AsyncIterable<[string, Uint8Array]> {
    try {
      yield* this.adapter.scan(threadId, range)
    } catch (err) {
      throw this.#wrap(threadId, err)
    }
  }

  async commit(threadId: string, batch: Batch, guard: Guard): Promise<void> {
    try {
      await this.adapter.commit(threadId, batch, guard)
    } catch (err) {
      throw this.#wrap(threadId, err, true)
    }
  }

  /** The head's raw bytes (the guard of the next commit) and the checkpoint id they name; undefined for a new thread. */
  async head(threadId: string): Promise<{ id: string; bytes: Uint8Array } | undefined> {
    const [bytes] = await this.call(threadId, (a) => a.get(threadId, [HEAD_KEY]))
    if (bytes === undefined) return undefined
    let id: string | undefined
    try {
      id = utf8Strict.decode(bytes)
    } catch {
      // reported below
    }
    if (!isCheckpointId(id)) throw corruptHead(threadId, 'it does not hold a checkpoint id')
    return { id, bytes }
  }

  /** The writes that store `text` at `key`: one value, or a chunk marker and chunks within the adapter's limit. */
  puts(key: string, text: string): [string, Uint8Array][] {
    const max = this.adapter.limits.maxValueBytes
    const bytes = utf8.encode(text)
    if (bytes.length <= max) return [[key, bytes]]
    const count = Math.ceil(bytes.length / max)
    const puts: [string, Uint8Array][] = [[key, utf8.encode(`#${count}`)]]
    chunkKeys(key, count).forEach((k, i) => puts.push([k, bytes.subarray(i * max, (i + 1) * max)]))
    return puts
  }

  /** The text of a value as scanned at `key`, joining its chunks when it was split. */
  async text(threadId: string, key: string, raw: Uint8Array): Promise<string> {
    const count = chunkCount(raw)
    let bytes = raw
    if (count > 0) {
      const parts = await this.call(threadId, (a) => a.get(threadId, chunkKeys(key, count)))
      bytes = new Uint8Array(parts.reduce((n, p) => n + (p?.length ?? 0), 0))
      let at = 0
      for (const [i, part] of parts.entries()) {
        if (!part) throw corruptRecord(threadId, idOfKey(key), `chunk ${i + 1} of ${count} is missing`)
        bytes.set(part, at)
        at += part.length
      }
    }
    try {
      return utf8Strict.decode(bytes)
    } catch (err) {
      throw corruptRecord(threadId, idOfKey(key), 'not valid UTF-8', err)
    }
  }

  #wrap(threadId: string, err: unknown, write = false): unknown {
    if (isEdgegraphError(err)) return err
    // A write that failed without a typed answer may have landed before the failure (a connection cut after the
    // store applied it): say so, rather than have the caller repeat an input that was already stored.
    const outcome = write ? 'The write may or may not have landed: read the thread (getState) before repeating an input; invoke(null) continues safely.' : 'Nothing was written.'
    return new EdgegraphError(
      'STORAGE_FAILED',
      `The ${this.adapter.name} adapter failed for thread "${threadId}": ${(err as Error)?.message ?? String(err)}. ${outcome}`,
      { cause: err, context: { threadId, adapter: this.adapter.name } },
    )
  }
}

/** Every key a scanned value occupies: its own and its chunks'. */
export function storedKeys(key: string, raw: Uint8Array): string[] {
  return [key, ...chunkKeys(key, chunkCount(raw))]
}

/** How many chunks a stored value was split into (0 when it is stored whole). */
function chunkCount(raw: Uint8Array): number {
  if (raw[0] !== CHUNK_MARK) return 0
  return Number(new TextDecoder().decode(raw.subarray(1)))
}

/** The head bytes that name checkpoint `id`. */
export function headBytes(id: string): Uint8Array {
  return utf8.encode(id)
}

/** The guard of a commit made on top of checkpoint `headId` (undefined: on a thread with no checkpoints yet). */
export function headGuard(headId: string | undefined): Guard {
  return { key: HEAD_KEY, expect: headId === undefined ? undefined : headBytes(headId) }
}
