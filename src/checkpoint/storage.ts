/**
 * @module The history layer's access to an adapter: every call wrapped so a foreign error becomes a typed
 * `STORAGE_FAILED` naming the adapter, and values stored as checksummed UTF-8 text, split into chunks above the
 * adapter's limit.
 *
 * A value is `$` (0x24), the {@link sum32} of the text's bytes (4 bytes, big-endian), then the text; the head is the
 * FNV-1a hash of the checkpoint id in hex, `!`, then the id. Any single changed byte or word changes the sum (each
 * round is a bijection of its lane), so a flipped byte reads as `CORRUPT_RECORD`, never as other state. Values written
 * with the older byte-wise FNV-1a (`!`, 0x21), or before checksums (no mark), are still read; a damaged marker makes
 * the latter fail to parse, or reads the intact text.
 *
 * Packs are compressed when that pays: `z` (0x7a), the FNV-1a hash of the compressed bytes, then the text's UTF-8
 * bytes through the platform's `CompressionStream('deflate-raw')` (browsers, workerd, Node 18+).
 */
import { EdgegraphError, isEdgegraphError } from '../errors.js'
import { sameBytes, type Batch, type Guard, type ScanRange, type StorageAdapter } from './adapter.js'
import { HEAD_KEY, PACK_PREFIXES, chunkKeys, idOfKey } from './keys.js'
import { corruptHead, corruptRecord } from './read-errors.js'
import { isCheckpointId } from './ids.js'
import type { RecordParts } from './record.js'

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })
const CHUNK_MARK = 0x23 // '#': a chunked value holds `#<count>`, its bytes are in `k/<key>/<n>`
const SUM_MARK = 0x24 // '$': a value checksummed by sum32
const FNV_MARK = 0x21 // '!': a value checksummed by FNV-1a (written before sum32)
const ZIP_MARK = 0x7a // 'z': a checksummed value of compressed text
/** Packs below this many bytes are stored as they are: compressing them saves too little to pay for the call. */
const ZIP_MIN_BYTES = 1024
/** Bytes of records {@link ChunkedStorage.puts} keeps for packing, for all threads together. */
const RECENT_MAX_BYTES = 4 * 1024 * 1024

/** The adapter of a graph's history, as the history layer uses it. */
export class ChunkedStorage {
  readonly adapter: StorageAdapter
  readonly #bareHeads = new Map<string, string>()
  /**
   * Records this storage wrote lately, as stored and in parts, by key: a pack of them needs no read back. Two threads
   * may use one key: the bytes tell them apart (equal bytes are the same record).
   */
  readonly #recent = new Map<string, [bytes: Uint8Array, parts: RecordParts]>()
  #recentBytes = 0

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

  /** The thread's packs newest first: the `a/` ones, then the legacy `p/` ones (all older; '~' sorts after every id). */
  async *packs(threadId: string): AsyncIterable<[string, Uint8Array]> {
    for (const p of PACK_PREFIXES) yield* this.scan(threadId, { from: p, to: `${p}~`, reverse: true })
  }

  async commit(threadId: string, batch: Batch, guard: Guard): Promise<void> {
    const bare = this.#bareHeads.get(threadId)
    if (bare !== undefined && guard.key === HEAD_KEY && sameBytes(guard.expect, headBytes(bare))) guard = { key: HEAD_KEY, expect: utf8.encode(bare) }
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
    let text = ''
    try {
      text = utf8Strict.decode(bytes)
    } catch {
      // reported below
    }
    const sum = text.length > 9 && text[8] === '!' ? text.slice(0, 8) : undefined
    const id = sum === undefined ? text : text.slice(9)
    if (!isCheckpointId(id) || (sum !== undefined && sum !== idSum(id))) throw corruptHead(threadId, 'it does not hold a checkpoint id with its checksum')
    // A head written before checksums: the next commit is guarded by its bytes as they are.
    if (sum === undefined) this.#bareHeads.set(threadId, id)
    return { id, bytes }
  }

  /**
   * The writes that store `text` at `key`: one value, or a chunk marker and chunks within the adapter's limit. With
   * `parts` (a checkpoint record that may be packed) a record stored as one value is kept in its parts (up to
   * {@link RECENT_MAX_BYTES} for all threads, then all are dropped), so packing it later ({@link recall}) skips reading
   * it back, checking and parsing it. A chunked one is not: its marker alone would not show that a rewrite
   * (retention's snapshots) changed it.
   */
  puts(key: string, text: string, parts?: RecordParts): [string, Uint8Array][] {
    const puts = this.#split(key, sealText(text))
    const bytes = (puts[0] as [string, Uint8Array])[1]
    if (!parts || puts.length > 1) return puts
    if ((this.#recentBytes += bytes.length) > RECENT_MAX_BYTES) {
      this.#recent.clear()
      this.#recentBytes = bytes.length
    }
    this.#recent.set(key, [bytes, parts])
    return puts
  }

  /**
   * The parts of the record at `key` if this storage wrote it and `raw` is still what it wrote, else undefined. Asked
   * for when the record is packed, which happens once: it is forgotten, so packed records are not held.
   */
  recall(key: string, raw: Uint8Array): RecordParts | undefined {
    const [bytes, parts] = this.#recent.get(key) ?? []
    if (!bytes) return
    this.#recent.delete(key)
    this.#recentBytes -= bytes.length
    if (sameBytes(bytes, raw)) return parts
  }

  /**
   * As {@link puts}, compressed when the platform can and that at least halves the bytes: for packs, which are
   * written once and read whole. Natural-language text shrinks to about a third and is compressed; random text (a
   * pack of it shrinks to 0.7) is left as it is, as every read of a compressed pack pays for inflating it (about 1 ms
   * per 40 KB pack through Node's streams). Text that {@link compressible} finds no repeats in is not even tried: a
   * compression costs the run ~1 ms of its thread in Node, and a failed one buys nothing.
   */
  async compressedPuts(key: string, text: string): Promise<[string, Uint8Array][]> {
    const sealed = sealText(text)
    const body = sealed.subarray(5)
    if (body.length >= ZIP_MIN_BYTES && typeof CompressionStream === 'function' && compressible(text)) {
      const zipped = await through(body, new CompressionStream('deflate-raw'))
      if (zipped.length <= body.length * 0.5) return this.#split(key, seal(ZIP_MARK, zipped))
    }
    return this.#split(key, sealed)
  }

  #split(key: string, bytes: Uint8Array): [string, Uint8Array][] {
    const max = this.adapter.limits.maxValueBytes
    if (bytes.length <= max) return [[key, bytes]]
    const count = Math.ceil(bytes.length / max)
    const puts: [string, Uint8Array][] = [[key, utf8.encode(`#${count}`)]]
    chunkKeys(key, count).forEach((k, i) => puts.push([k, bytes.subarray(i * max, (i + 1) * max)]))
    return puts
  }

  /** The text of a value as scanned at `key`, joining its chunks when it was split and checking its checksum. */
  async text(threadId: string, key: string, raw: Uint8Array): Promise<string> {
    const count = chunkCount(raw)
    if (Number.isNaN(count)) throw corruptRecord(threadId, idOfKey(key), 'its chunk marker is damaged')
    let bytes = raw
    if (count > 0) {
      const parts = await this.call(threadId, (a) => a.get(threadId, chunkKeys(key, count)))
      const missing = parts.findIndex((part) => !part)
      if (missing >= 0) throw corruptRecord(threadId, idOfKey(key), `chunk ${missing + 1} of ${count} is missing`)
      bytes = joinBytes(parts as Uint8Array[])
    }
    let body = openText(bytes)
    if (!body) throw corruptRecord(threadId, idOfKey(key), `checksum mismatch: its stored bytes changed (${key})`)
    try {
      if (bytes[0] === ZIP_MARK) body = await through(body, new DecompressionStream('deflate-raw'))
    } catch (err) {
      throw corruptRecord(threadId, idOfKey(key), `its compressed bytes do not decompress (${key})`, err)
    }
    try {
      return utf8Strict.decode(body)
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
  return raw[0] === CHUNK_MARK ? [key, ...chunkKeys(key, chunkCount(raw))] : [key]
}

/** How many chunks a stored value was split into (0 when it is stored whole, NaN when the marker is damaged). */
function chunkCount(raw: Uint8Array): number {
  if (raw[0] !== CHUNK_MARK) return 0
  const digits = new TextDecoder().decode(raw.subarray(1))
  return /^[1-9]\d{0,8}$/.test(digits) ? Number(digits) : Number.NaN
}

/**
 * `text` as stored: `$`, the {@link sum32} of its UTF-8 bytes (4 bytes, big-endian), then those bytes. ASCII text (JSON
 * of most states) is encoded in place after the header (`encodeInto` into one byte a character): one buffer, where
 * `encode` and a copy behind the header made two (in Node, whose `encode` is slow, a chat's 650-byte record is sealed in
 * half the time). Other text, which needs more bytes than characters, is encoded again whole.
 */
export function sealText(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length + 5)
  if (utf8.encodeInto(text, bytes.subarray(5)).read < text.length) return seal(SUM_MARK, utf8.encode(text))
  new DataView(bytes.buffer).setUint32(1, sum32(bytes.subarray(5)))
  bytes[0] = SUM_MARK
  return bytes
}

/** `mark`, the checksum of `body` it names (4 bytes, big-endian: sum32 for `$`, FNV-1a for `z`), then `body`. */
function seal(mark: number, body: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(body.length + 5)
  new DataView(bytes.buffer).setUint32(1, checksumOf(mark)(body))
  bytes[0] = mark
  bytes.set(body, 5)
  return bytes
}

/**
 * Whether deflate may halve `text`, judged by how many of its last 4,096 characters start a 4-character run seen
 * earlier in them (what deflate's matches feed on): about half in a pack of natural-language messages, which deflates to
 * 0.35, none in random text (0.74) and an eighth in random text with JSON around it (0.65). Costs ~7 µs a pack.
 */
function compressible(text: string): boolean {
  GRAMS.fill(-1)
  const start = Math.max(0, text.length - 4096)
  const needed = (text.length - start) / 4
  let gram = 0
  let repeats = 0
  // Every operation runs on every turn, and none after the loop: V8 compiles the loop while it runs (OSR), and code
  // with an operation it had not seen run (a repeat's count in random text, a test after the loop) went back to the
  // interpreter on every pack, without being dropped.
  for (let i = start; i < text.length; i++) {
    // 7 bits of each of 4 characters: the run stays a small integer, which V8 keeps in optimized code.
    gram = ((gram << 7) | (text.charCodeAt(i) & 0x7f)) & 0xfffffff
    const slot = Math.imul(gram, 0x9e3779b1) >>> 20
    repeats += i - start >= 3 && GRAMS[slot] === gram ? 1 : 0
    GRAMS[slot] = gram
    if (repeats >= needed) return true
  }
  return false
}

/** Last 4-character run seen in each of 4,096 slots (by hash), for {@link compressible}. */
const GRAMS = new Int32Array(4096)

/**
 * `bytes` through a (de)compression stream, written and read directly: half the cost per pack in Node of going
 * through a Blob and a Response, which add streams of their own. A failure surfaces from the read.
 */
async function through(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const writer = stream.writable.getWriter()
  writer.write(bytes as Uint8Array<ArrayBuffer>).catch(() => {})
  writer.close().catch(() => {})
  const reader = stream.readable.getReader()
  const parts: Uint8Array[] = []
  for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(r.value)
  return joinBytes(parts)
}

/** `parts` as one array of bytes (the part itself when there is one). */
function joinBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

/**
 * The text bytes of a stored value: checked and unwrapped, or as they are when written before checksums; undefined
 * when damaged. A compressed value (`z`) comes back checked but still compressed.
 */
export function openText(bytes: Uint8Array): Uint8Array | undefined {
  const mark = bytes[0]
  if (mark !== SUM_MARK && mark !== FNV_MARK && mark !== ZIP_MARK) return bytes
  const body = bytes.subarray(5)
  return bytes.length >= 5 && new DataView(bytes.buffer, bytes.byteOffset).getUint32(1) === checksumOf(mark)(body) ? body : undefined
}

/** The checksum a value's mark names: sum32 for `$`, FNV-1a for `!` and `z`. */
const checksumOf = (mark: number | undefined): ((bytes: Uint8Array) => number) => (mark === SUM_MARK ? sum32 : fnv1a)

/**
 * A 32-bit checksum of `bytes` a word at a time, in two lanes (alternate little-endian words, as every platform edgegraph
 * runs on stores them), seeded with the length, the 0-3 bytes left over folded in one by one: about ten times faster
 * than byte-wise FNV-1a on long values. A changed word changes its lane (each round, `h = imul(h ^ w, odd)`, is a
 * bijection of h for a fixed w and of w for a fixed h), and the lanes combine through another bijection.
 */
export function sum32(bytes: Uint8Array): number {
  const n = bytes.length >>> 2
  let a = 0x811c9dc5 ^ bytes.length
  let b = 0x01000193
  // Int32Array needs an aligned start, which a value's body (after its 5-byte header) seldom has: words are copied a
  // chunk at a time into one scratch buffer (an even number of words, so each chunk starts on lane a).
  for (let start = 0; start < n; start += SCRATCH_WORDS) {
    const count = Math.min(SCRATCH_WORDS, n - start)
    scratchBytes.set(bytes.subarray(start * 4, (start + count) * 4))
    let i = 1
    for (; i < count; i += 2) {
      a = Math.imul(a ^ (scratch[i - 1] as number), 0x01000193)
      b = Math.imul(b ^ (scratch[i] as number), 0x5bd1e995)
    }
    if (i === count) a = Math.imul(a ^ (scratch[i - 1] as number), 0x01000193)
  }
  for (let j = n * 4; j < bytes.length; j++) b = Math.imul(b ^ (bytes[j] as number), 0x5bd1e995)
  return (a ^ Math.imul(b, 0x27d4eb2d)) >>> 0
}

const SCRATCH_WORDS = 16384
const scratch = new Int32Array(SCRATCH_WORDS)
const scratchBytes = new Uint8Array(scratch.buffer)

/** FNV-1a, 32 bits, of `bytes`. */
export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193)
  return h >>> 0
}

const hex = (n: number): string => n.toString(16).padStart(8, '0')

/** The head bytes that name checkpoint `id`: its checksum in hex, `!`, the id (so no cut of it reads as a bare id). */
export function headBytes(id: string): Uint8Array {
  // Ids are ASCII (checked wherever one is read), so the head's characters are its bytes: written without TextEncoder,
  // whose two calls here cost about a tenth of a counter's step.
  const text = `${idSum(id)}!${id}`
  const bytes = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i)
  return bytes
}

/** The FNV-1a hash, in hex, of checkpoint id `id` (ASCII: its characters are its UTF-8 bytes), as heads hold it. */
function idSum(id: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193)
  return hex(h >>> 0)
}

/** The guard of a commit made on top of checkpoint `headId` (undefined: on a thread with no checkpoints yet). */
export function headGuard(headId: string | undefined): Guard {
  return { key: HEAD_KEY, expect: headId === undefined ? undefined : headBytes(headId) }
}
