/**
 * @module Turns state values into JSON-safe trees and back. Round-trips JSON plus Date, Map, Set, BigInt,
 * Uint8Array, `undefined`, NaN/±Infinity and -0; rejects everything else before anything is written.
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
 * Encodes a state value for storage. Throws `UNSERIALIZABLE` naming the channel and the path inside the value
 * for functions, symbols, class instances, cycles and other values that would not read back the same.
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
    if (value instanceof Date) return { [TAG]: 'd', v: Number.isNaN(value.getTime()) ? null : value.getTime() }
    if (value instanceof Uint8Array && proto === Uint8Array.prototype) return { [TAG]: 'y', v: toBase64(value) }
    if (value instanceof Map && proto === Map.prototype) {
      const entries: Encoded[] = []
      let i = 0
      for (const [k, v] of value) {
        where.path.push(`<map entry ${i++}>`)
        entries.push([encode(k, where, ancestors), encode(v, where, ancestors)])
        where.path.pop()
      }
      return { [TAG]: 'm', v: entries }
    }
    if (value instanceof Set && proto === Set.prototype) {
      const items: Encoded[] = []
      let i = 0
      for (const v of value) {
        where.path.push(`<set item ${i++}>`)
        items.push(encode(v, where, ancestors))
        where.path.pop()
      }
      return { [TAG]: 's', v: items }
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
      return new Map((v as [unknown, unknown][]).map(([k, x]) => [decodeValue(k), decodeValue(x)]))
    case 's':
      return new Set((v as unknown[]).map(decodeValue))
    case 'o': {
      const inner = v as Record<string, unknown>
      for (const key in inner) setOwn(inner, key, decodeValue(inner[key]))
      return inner
    }
    default:
      throw new Error(`unknown value tag ${JSON.stringify(tag)}`)
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
    `State channel "${where.channel}" holds ${what} at ${at}, which cannot be stored: keep state to JSON plus Date, Map, Set, BigInt, Uint8Array and undefined (store an id or a plain object instead).`,
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
