/**
 * @module The delta codec: how a channel's new value is stored against its value in the parent checkpoint.
 * Arrays that grew store their appended tail, objects store their changed keys (recursively), and identity
 * checks come first so unchanged sub-trees cost nothing to compare.
 */
import { decodeValue, encodeValue, setOwn, type Encoded, type ValueLocation } from './serde.js'

/**
 * A stored change to one value.
 * - `{ f }`: the full new value.
 * - `{ a, t? }`: an array: keep the first `t` items of the old one (all of them when `t` is absent), then append `a`.
 * - `{ o, r?, k? }`: a plain object: apply the nested deltas in `o` to those keys, remove the keys in `r`, then put
 *   the keys in the order `k` lists (absent when it is prev's kept keys, then the new ones).
 */
export type Delta =
  | { f: Encoded }
  | { a: Encoded[]; t?: number }
  | { o: { [key: string]: Delta }; r?: string[]; k?: string[] }

/** Encodes `next` in full, validating it. */
export function fullDelta(next: unknown, where: ValueLocation): Delta {
  return { f: encodeValue(next, where) }
}

/**
 * Returns the cheapest delta turning `prev` into `next`, or `undefined` when they are the same.
 * Every new value it includes is validated by the serde (so an unserializable value is caught here,
 * before anything is written).
 */
export function diff(prev: unknown, next: unknown, where: ValueLocation): Delta | undefined {
  if (Object.is(prev, next)) return undefined
  if (Array.isArray(prev) && Array.isArray(next)) return diffArray(prev, next, where)
  if (isPlainObject(prev) && isPlainObject(next)) return diffObject(prev, next, where)
  if (sameLeaf(prev, next)) return undefined
  return fullDelta(next, where)
}

/**
 * Arrays a reducer made from another by keeping its first `keep` items (the same objects, untouched since) and
 * writing the rest, as the messages reducer notes them: diffing one against that array compares only the rest.
 */
export const derivedArrays = new WeakMap<object, { from: unknown[]; keep: number }>()

function diffArray(prev: unknown[], next: unknown[], where: ValueLocation): Delta | undefined {
  const max = Math.min(prev.length, next.length)
  const known = derivedArrays.get(next)
  let keep = known?.from === prev ? Math.min(known.keep, max) : 0
  // Reducers like `(a, b) => [...a, ...b]` keep item identity, so this loop is usually all it takes.
  while (keep < max && prev[keep] === next[keep]) keep++
  while (keep < max && deepEqual(prev[keep], next[keep])) keep++
  if (keep === prev.length && keep === next.length) return undefined
  if (keep === 0) return fullDelta(next, where)
  const tail: Encoded[] = new Array(next.length - keep)
  for (let i = keep; i < next.length; i++) {
    where.path.push(i)
    tail[i - keep] = encodeValue(next[i], where)
    where.path.pop()
  }
  return keep === prev.length ? { a: tail } : { a: tail, t: keep }
}

function diffObject(prev: Record<string, unknown>, next: Record<string, unknown>, where: ValueLocation): Delta | undefined {
  const changed: { [key: string]: Delta } = {}
  let removed: string[] | undefined
  let count = 0
  let allFull = true
  const nextKeys = Object.keys(next)
  const prevKeys = Object.keys(prev)
  // Applying the changes keeps prev's keys in place and adds new ones last: next's order when next lists its kept keys
  // in prev's order, before any new key. `at` walks prev's keys while that holds, and is -1 once it does not (the
  // delta then lists the order, `k`).
  let at = 0
  for (const key of nextKeys) {
    const kept = Object.hasOwn(prev, key)
    if (at >= 0) at = kept ? prevKeys.indexOf(key, at) : prevKeys.length
    where.path.push(key)
    const d = kept ? diff(prev[key], next[key], where) : fullDelta(next[key], where)
    where.path.pop()
    if (d === undefined) continue
    setOwn(changed, key, d)
    count++
    if (!('f' in d)) allFull = false
  }
  for (const key of prevKeys) {
    if (!Object.hasOwn(next, key)) (removed ??= []).push(key)
  }
  if (count === 0 && removed === undefined && at >= 0) return undefined
  // When every key changed, the full object is no bigger than the delta and simpler to read.
  if (allFull && count === nextKeys.length) return fullDelta(next, where)
  const delta: Delta = removed === undefined ? { o: changed } : { o: changed, r: removed }
  if (at < 0) delta.k = nextKeys
  return delta
}

/**
 * Applies a stored delta to the parent's value. Never mutates `prev` (history snapshots share structure)
 * unless `inPlace` says the caller owns it and no one else will see the old value.
 */
export function applyDelta(prev: unknown, delta: Delta, inPlace = false): unknown {
  if ('f' in delta) return decodeValue(delta.f)
  if ('a' in delta) {
    if (!Array.isArray(prev)) throw new Error('array delta on a value that is not an array')
    const keep = delta.t ?? prev.length
    if (keep > prev.length) throw new Error('array delta keeps more items than there are')
    const tail = decodeValue(delta.a) as unknown[]
    if (inPlace) {
      prev.length = keep
      for (const item of tail) prev.push(item)
      return prev
    }
    return (keep === prev.length ? prev : prev.slice(0, keep)).concat(tail)
  }
  if ('o' in delta) {
    if (!isPlainObject(prev)) throw new Error('object delta on a value that is not a plain object')
    const out: Record<string, unknown> = inPlace ? prev : { ...prev }
    if (delta.r) for (const key of delta.r) delete out[key]
    for (const key of Object.keys(delta.o)) setOwn(out, key, applyDelta(Object.hasOwn(prev, key) ? prev[key] : undefined, delta.o[key] as Delta, inPlace))
    const order = delta.k
    if (!order) return out
    const ordered: Record<string, unknown> = {}
    for (const key of order) if (Object.hasOwn(out, key)) setOwn(ordered, key, out[key])
    if (Object.keys(ordered).length !== order.length || order.length !== Object.keys(out).length) throw new Error('object delta orders keys the value does not have')
    return ordered
  }
  throw new Error('unknown delta shape')
}

/** Structural equality over the values the serde supports. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  if (isPlainObject(a)) {
    if (!isPlainObject(b)) return false
    // Key order counts: a stored value must read back as it was written, keys in the same order.
    const keys = Object.keys(a)
    const other = Object.keys(b)
    return keys.length === other.length && keys.every((key, i) => key === other[i] && deepEqual(a[key], b[key]))
  }
  return sameLeaf(a, b)
}

function sameLeaf(a: unknown, b: unknown): boolean {
  // Numbers and strings (a counter's step) are no leaf below: return before the loop makes its list.
  if (typeof a !== 'object') return false
  if (a instanceof Date && b instanceof Date) return Object.is(a.getTime(), b.getTime())
  // Bytes, Map entries and Set items compare as arrays, in order (Map entries as [key, value] pairs).
  for (const type of [Uint8Array, Map, Set]) if (a instanceof type && b instanceof type) return deepEqual([...(a as Iterable<unknown>)], [...(b as Iterable<unknown>)])
  return false
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}
