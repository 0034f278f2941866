/**
 * @module Mutations of valid request bodies, shared by the validator fuzzing in Node (test/worker-validators.test.ts)
 * and through the real Worker in workerd (test/workers/fuzz.spec.ts). Pure TypeScript and fast-check.
 */
import fc from 'fast-check'

export type Obj = Record<string, unknown>
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A copy of `o` with `key` as an own property (a `{ __proto__: x }` literal would set the prototype instead). */
export const withKey = (o: Obj, key: string, value: unknown): Obj => Object.defineProperty({ ...o }, key, { value, enumerable: true, writable: true, configurable: true })

/** A value nested `depth` levels deep, alternating arrays and objects. */
export const nested = (depth: number, leaf: unknown = 1): unknown => {
  let v: unknown = leaf
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v }
  return v
}

/** Keys that trip naive code: prototype names, empty, and lengths on either side of the limits. */
export const NASTY_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '', 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(200), 'x'.repeat(201)]
export const nastyKey = fc.oneof(fc.constantFrom(...NASTY_KEYS), fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 6 }))

/** Drop a field, set one (a known field or a nasty key) to `value`, or set a key inside one of its nested objects. */
export type Mutation = { kind: 'drop'; pick: number } | { kind: 'set'; key: string; value: unknown } | { kind: 'deep'; pick: number; key: string; value: unknown }

export const mutation = (fields: string[], value: fc.Arbitrary<unknown>): fc.Arbitrary<Mutation> =>
  fc.oneof(
    fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('set' as const), key: fc.oneof(fc.constantFrom(...fields), nastyKey), value }),
    fc.record({ kind: fc.constant('deep' as const), pick: fc.nat(), key: nastyKey, value }),
  )

export function mutate(body: Obj, m: Mutation): Obj {
  const keys = Object.keys(body)
  if (m.kind === 'drop') {
    if (keys.length === 0) return body
    const { [keys[m.pick % keys.length] as string]: _gone, ...rest } = body
    return rest
  }
  if (m.kind === 'set') return withKey(body, m.key, m.value)
  // Into one of the body's nested objects (input, metadata, values, command, command.update...).
  const inner = keys.filter((k) => isObj(body[k]))
  if (inner.length === 0) return withKey(body, m.key, m.value)
  const k = inner[m.pick % inner.length] as string
  return withKey(body, k, withKey(body[k] as Obj, m.key, m.value))
}
