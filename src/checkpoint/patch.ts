/** @module Branch diff: the RFC 6902 JSON Patch that turns one checkpoint's state into another's. */
import type { Encoded } from './serde.js'

/** One RFC 6902 operation. */
export type JsonPatchOperation =
  | { op: 'add'; path: string; value: Encoded }
  | { op: 'remove'; path: string }
  | { op: 'replace'; path: string; value: Encoded }

/**
 * Computes a JSON Patch from `from` to `to` (JSON-safe trees). Arrays that only grew become `add` operations
 * at the end, so the diff of a chat is its new messages, not the whole list.
 */
export function jsonPatch(from: Encoded, to: Encoded, path = ''): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = []
  walk(from, to, path, ops)
  return ops
}

function walk(a: Encoded, b: Encoded, path: string, ops: JsonPatchOperation[]): void {
  if (a === b) return
  if (Array.isArray(a) && Array.isArray(b)) {
    const common = Math.min(a.length, b.length)
    for (let i = 0; i < common; i++) walk(a[i] as Encoded, b[i] as Encoded, `${path}/${i}`, ops)
    for (let i = a.length - 1; i >= b.length; i--) ops.push({ op: 'remove', path: `${path}/${i}` })
    for (let i = a.length; i < b.length; i++) ops.push({ op: 'add', path: `${path}/${i}`, value: b[i] as Encoded })
    return
  }
  if (isObject(a) && isObject(b)) {
    for (const key of Object.keys(a)) {
      if (!Object.hasOwn(b, key)) ops.push({ op: 'remove', path: `${path}/${escape(key)}` })
    }
    for (const key of Object.keys(b)) {
      const p = `${path}/${escape(key)}`
      if (Object.hasOwn(a, key)) walk(a[key] as Encoded, b[key] as Encoded, p, ops)
      else ops.push({ op: 'add', path: p, value: b[key] as Encoded })
    }
    return
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return
  ops.push({ op: 'replace', path, value: b })
}

function isObject(v: Encoded): v is { [key: string]: Encoded } {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function escape(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1')
}
