/**
 * @module What the LangGraph bridge stores for one checkpoint: its "doc" (the checkpoint and metadata as JSON trees,
 * each channel value as the saver's serde wrote it), and the record that holds the doc as a delta against the
 * parent's doc (src/checkpoint/delta.ts) or, for a snapshot, in full.
 */
import { applyDelta, diff, fullDelta, type Delta } from '../checkpoint/delta.js'
import { fromBase64, toBase64 } from '../checkpoint/serde.js'

/** A value as the serde wrote it: its JSON tree when it wrote JSON text, else its type and bytes (base64); `size` in bytes. */
export type Serialized = ({ json: unknown } | { type: string; base64: string }) & { size: number }

/** What `SerializerProtocol` (LangGraph's serde) does, as far as the bridge uses it. */
export interface Serde {
  dumpsTyped(data: unknown): Promise<[string, Uint8Array]>
  loadsTyped(type: string, data: Uint8Array | string): Promise<unknown>
}

/**
 * One checkpoint, as diffed. Channel values are JSON trees (`ch`) or, for a serde output that is not JSON text,
 * `[type, base64]` (`bin`); the metadata likewise (`m` or `mb`).
 */
export interface Doc {
  v: number
  ts: string
  cv: Record<string, unknown>
  vs: Record<string, unknown>
  m?: unknown
  mb?: [string, string]
  ch: Record<string, unknown>
  bin?: Record<string, [string, string]>
}

/** A doc as read or written, with what the snapshot policy needs. */
export interface Loaded {
  doc: Doc
  /** The parent checkpoint id the record names (a LangGraph `parentConfig`), whether or not it is stored. */
  parent: string | undefined
  /** Bytes of the records a read of this doc walks: those since the last snapshot, this one included. */
  chain: number
  /** Estimated stored size of each channel value, filled when the doc is first used as a parent. */
  sizes?: Record<string, number>
}

/** A stored record: `p` the parent id, `b` set on a snapshot (then `d` is `{ f: doc }`), `d` absent when nothing changed. */
interface StoredRecord {
  p?: string
  b?: 1
  d?: Delta
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const WHERE = () => ({ channel: 'checkpoint', path: [] })

/** Serializes `value` with `serde`, keeping JSON output as a tree so it can be diffed. */
export async function serialize(serde: Serde, value: unknown): Promise<Serialized> {
  const [type, bytes] = await serde.dumpsTyped(value)
  if (type === 'json') {
    try {
      return { json: JSON.parse(utf8Strict.decode(bytes)), size: bytes.length }
    } catch {
      // Not JSON text after all: kept as bytes below.
    }
  }
  const base64 = toBase64(bytes)
  return { type, base64, size: base64.length }
}

/** The value `serde` reads back from a stored JSON tree or `[type, base64]`. */
export function deserialize(serde: Serde, json: unknown, bin?: [string, string]): Promise<unknown> {
  return bin === undefined ? serde.loadsTyped('json', JSON.stringify(json)) : serde.loadsTyped(bin[0], fromBase64(bin[1]))
}

/** Puts `s` into a doc as channel `name` (or, with `name` undefined, as the metadata). */
export function setSerialized(doc: Doc, name: string | undefined, s: Serialized): void {
  if (name === undefined) {
    if ('json' in s) doc.m = s.json
    else doc.mb = [s.type, s.base64]
  } else if ('json' in s) doc.ch[name] = s.json
  else (doc.bin ??= {})[name] = [s.type, s.base64]
}

/** Stored size of channel `name` of `doc` (its JSON text, or its base64). */
export function sizeOf(doc: Doc, name: string): number {
  const bin = doc.bin?.[name]
  return bin === undefined ? JSON.stringify(doc.ch[name] ?? null).length : bin[1].length
}

/** Estimated stored size of a whole doc, given its channels' sizes. */
export function docSize(doc: Doc, sizes: Record<string, number>): number {
  let n = JSON.stringify([doc.v, doc.ts, doc.cv, doc.vs, doc.m ?? null, doc.mb ?? null]).length
  for (const name in sizes) n += sizes[name] as number
  return n
}

/**
 * The record text of `doc` after `parent` (undefined: no stored parent). A snapshot when there is no parent, or when
 * rebuilding the doc would read more than `snapshotFactor` × its size in records; otherwise the delta.
 */
export function encodeRecord(doc: Doc, parentId: string | undefined, parent: Loaded | undefined, size: number, snapshotFactor: number): { text: string; snapshot: boolean } {
  if (parent) {
    const d = diff(parent.doc, doc, WHERE())
    const text = JSON.stringify(d === undefined ? { p: parentId } : { p: parentId, d })
    if (parent.chain + text.length <= snapshotFactor * size) return { text, snapshot: false }
  }
  return { text: snapshotText(doc, parentId), snapshot: true }
}

/** The record text of `doc` in full. */
export function snapshotText(doc: Doc, parentId: string | undefined): string {
  const record: StoredRecord = parentId === undefined ? { b: 1, d: fullDelta(doc, WHERE()) } : { p: parentId, b: 1, d: fullDelta(doc, WHERE()) }
  return JSON.stringify(record)
}

/** A record's parent and whether it is a snapshot, without decoding its delta. Throws a plain Error on a bad record. */
export function recordHead(text: string): { parent: string | undefined; snapshot: boolean; record: StoredRecord } {
  const record = JSON.parse(text) as StoredRecord
  if (record === null || typeof record !== 'object' || (record.p !== undefined && typeof record.p !== 'string') || (record.b === 1 && record.d === undefined)) {
    throw new Error('not a checkpoint record')
  }
  if (record.b !== 1 && record.p === undefined) throw new Error('a delta record without a parent')
  return { parent: record.p, snapshot: record.b === 1, record }
}

/** The doc a record holds, given its parent's doc (undefined for a snapshot). Throws a plain Error on a bad record. */
export function applyRecord(record: StoredRecord, parent: Doc | undefined): Doc {
  if (record.b === 1) return checkDoc(applyDelta(undefined, record.d as Delta))
  if (parent === undefined) throw new Error('a delta record read without its parent')
  return record.d === undefined ? parent : checkDoc(applyDelta(parent, record.d))
}

function checkDoc(value: unknown): Doc {
  const doc = value as Doc
  if (doc === null || typeof doc !== 'object' || typeof doc.ts !== 'string' || typeof doc.ch !== 'object' || doc.ch === null) throw new Error('not a checkpoint doc')
  return doc
}

/** The stored text of one pending write. */
export function writeText(channel: string, taskPath: string, value: Serialized): string {
  return JSON.stringify('json' in value ? { c: channel, p: taskPath, j: value.json } : { c: channel, p: taskPath, y: value.type, b: value.base64 })
}

/** A stored pending write. Throws a plain Error on a bad one. */
export function readWrite(text: string): { channel: string; taskPath: string; json: unknown; bin?: [string, string] } {
  const w = JSON.parse(text) as { c?: unknown; p?: unknown; j?: unknown; y?: unknown; b?: unknown }
  if (typeof w?.c !== 'string' || typeof w.p !== 'string') throw new Error('not a pending write')
  if (typeof w.y === 'string' && typeof w.b === 'string') return { channel: w.c, taskPath: w.p, json: undefined, bin: [w.y, w.b] }
  if (!Object.hasOwn(w, 'j')) throw new Error('a pending write without its value')
  return { channel: w.c, taskPath: w.p, json: w.j }
}

