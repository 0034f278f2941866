/**
 * @module Turns state values into JSON-safe trees and back. Round-trips JSON plus Date, Map, Set, BigInt,
 * Uint8Array, `undefined`, NaN/±Infinity, -0 and instances of classes given to {@link registerClass}; rejects
 * everything else before anything is written.
 */
import { EdgegraphError } from '../errors.js'

/** A JSON-compatible tree produced by {@link encodeValue}. */
export type Encoded = null | boolean | number | string | Encoded[] | { [key: string]: Encoded }

/** Where a value sits, for error messages: the channel and the path inside it. */
export interface ValueLocation {
  channel: string
  path: (string | number)[]
}

const TAG = '$t'

/**
 * How instances of one class are stored: `encode` turns an instance into a value the serde can store (JSON plus
 * the types above, registered classes included), `decode` builds the instance back from it.
 */
export interface ClassCodec<T extends object = object> {
  /** Stored with every instance and looked up when reading: keep it stable across releases of your app. */
  tag: string
  /** The class. Only its exact instances use this codec (a subclass needs its own). */
  type: abstract new (...args: never) => T
  encode: (value: T) => unknown
  decode: (data: unknown) => T
}

// Keyed by prototype for encoding and by stored tag for decoding (one map: the two kinds of keys never collide).
// Stored tags are `c:` + the codec's tag, so they never collide with the one-letter built-in tags.
const classes = new Map<unknown, ClassCodec>()

/**
 * Lets instances of a class be stored in state. Register before running or reading a graph that holds them, in
 * every process that reads its threads; registering a tag again replaces its codec. An instance is stored whole,
 * as `{ "$t": "c:<tag>", "v": <encoded> }`, and compared by identity when a checkpoint is diffed (keep unchanged
 * instances, as reducers keep unchanged items, and only what changed is stored).
 *
 * @example
 * registerClass({ tag: 'money', type: Money, encode: (m) => [m.cents, m.currency], decode: (v) => new Money(...(v as [number, string])) })
 */
export function registerClass<T extends object>(codec: ClassCodec<T>): void {
  const entry = codec as unknown as ClassCodec
  classes.set(codec.type.prototype, entry).set(`c:${codec.tag}`, entry)
}

/**
 * Encodes a state value for storage. Throws `UNSERIALIZABLE` naming the channel and the path inside the value
 * for functions, symbols, instances of classes not given to {@link registerClass}, cycles and other values that
 * would not read back the same.
 */
export function encodeValue(value: unknown, where: ValueLocation): Encoded {
  return encode(value, where, new Set())
}

function encode(value: unknown, where: ValueLocation, ancestors: Set<object>): Encoded {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return value
      return { [TAG]: 'n', v: Object.is(value, -0) ? '-0' : String(value) }
    case 'undefined':
      return { [TAG]: 'u' }
    case 'bigint':
      return { [TAG]: 'b', v: value.toString() }
    case 'object':
      if (value === null) return null
      return encodeObject(value, where, ancestors)
    default:
      throw unserializable(where, `a ${typeof value}`)
  }
}

function encodeObject(value: object, where: ValueLocation, ancestors: Set<object>): Encoded {
  if (ancestors.has(value)) throw unserializable(where, 'a reference cycle')
  ancestors.add(value)
  try {
    if (Array.isArray(value)) {
      const out: Encoded[] = new Array(value.length)
      for (let i = 0; i < value.length; i++) {
        where.path.push(i)
        out[i] = encode(value[i], where, ancestors)
        where.path.pop()
      }
      return out
    }
    const proto = Object.getPrototypeOf(value)
    if (proto === Object.prototype || proto === null) return encodePlain(value as Record<string, unknown>, where, ancestors)
    const codec = classes.get(proto)
    if (codec) return { [TAG]: `c:${codec.tag}`, v: encode(codec.encode(value), where, ancestors) }
    if (value instanceof Date) return { [TAG]: 'd', v: Number.isNaN(value.getTime()) ? null : value.getTime() }
    if (proto === Uint8Array.prototype) return { [TAG]: 'y', v: toBase64(value as Uint8Array) }
    if (proto === Map.prototype || proto === Set.prototype) {
      // A Map entry is encoded as its [key, value] pair, so a bad key's path ends in [0] and a bad value's in [1].
      const items: Encoded[] = []
      for (const item of value as Iterable<unknown>) {
        where.path.push(`<${proto === Map.prototype ? 'map entry' : 'set item'} ${items.length}>`)
        items.push(encode(item, where, ancestors))
        where.path.pop()
      }
      return { [TAG]: proto === Map.prototype ? 'm' : 's', v: items }
    }
    const kind = (proto as { constructor?: { name?: string } } | undefined)?.constructor?.name
    throw unserializable(where, `an instance of ${kind || 'an unknown class'}`)
  } finally {
    ancestors.delete(value)
  }
}

function encodePlain(value: Record<string, unknown>, where: ValueLocation, ancestors: Set<object>): Encoded {
  if (Object.getOwnPropertySymbols(value).length > 0) throw unserializable(where, 'an object with symbol keys')
  const out: { [key: string]: Encoded } = {}
  for (const key of Object.keys(value)) {
    where.path.push(key)
    setOwn(out, key, encode(value[key], where, ancestors))
    where.path.pop()
  }
  // A plain object that happens to use our tag key is wrapped so it cannot be mistaken for a tagged value.
  return Object.hasOwn(out, TAG) ? { [TAG]: 'o', v: out } : out
}

/**
 * Decodes a tree from {@link encodeValue}. The tree must be freshly parsed: it is reused in place.
 * Throws a plain Error on malformed input; callers turn it into `CORRUPT_RECORD` with the record's name.
 */
export function decodeValue(tree: unknown): unknown {
  if (tree === null || typeof tree !== 'object') return tree
  if (Array.isArray(tree)) {
    for (let i = 0; i < tree.length; i++) {
      const item = tree[i]
      if (item !== null && typeof item === 'object') tree[i] = decodeValue(item)
    }
    return tree
  }
  const obj = tree as Record<string, unknown>
  const tag = obj[TAG]
  if (tag === undefined) {
    for (const key in obj) {
      const item = obj[key]
      if (item !== null && typeof item === 'object') setOwn(obj, key, decodeValue(item))
    }
    return obj
  }
  const v = obj.v
  switch (tag) {
    case 'u':
      return undefined
    case 'n':
      return v === '-0' ? -0 : Number(v)
    case 'b':
      return BigInt(v as string)
    case 'd':
      return new Date(v === null ? Number.NaN : (v as number))
    case 'y':
      return fromBase64(v as string)
    case 'm':
      return new Map((v as unknown[]).map(decodeValue) as [unknown, unknown][])
    case 's':
      return new Set((v as unknown[]).map(decodeValue))
    case 'o': {
      const inner = v as Record<string, unknown>
      for (const key in inner) setOwn(inner, key, decodeValue(inner[key]))
      return inner
    }
    default: {
      const codec = classes.get(tag)
      if (codec) return codec.decode(decodeValue(v))
      throw new Error(`unknown value tag ${JSON.stringify(tag)}: registerClass() its class before reading`)
    }
  }
}

/**
 * Sets an own property, even one named `__proto__` (which plain assignment would turn into a prototype
 * change: state must round-trip exactly, and stored data must never reach a prototype).
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true })
  else target[key] = value
}

/** Formats a path like `messages[3].content` for error messages. */
export function formatPath(channel: string, path: readonly (string | number)[]): string {
  let out = channel
  for (const seg of path) {
    out += typeof seg === 'number' ? `[${seg}]` : /^[A-Za-z_$][\w$]*$/.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`
  }
  return out
}

function unserializable(where: ValueLocation, what: string): EdgegraphError {
  const at = formatPath(where.channel, where.path)
  return new EdgegraphError(
    'UNSERIALIZABLE',
    `State channel "${where.channel}" holds ${what} at ${at}, which cannot be stored: keep state to JSON plus Date, Map, Set, BigInt, Uint8Array, undefined and classes given to registerClass() (store an id or a plain object instead).`,
    { context: { channel: where.channel } },
  )
}

/** Standard base64 of bytes (web APIs only; chunked so large values do not overflow the call stack). */
export function toBase64(bytes: Uint8Array): string {
  let bin = ''
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(bin)
}

/** Bytes of standard base64 text; throws on text that is not base64. */
export function fromBase64(text: string): Uint8Array {
  const bin = atob(text)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}
