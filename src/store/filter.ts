/**
 * @module Search filters, as LangGraph.js compares them (`compareValues` of its stores): each filter field is a
 * top-level field of an item's value, compared with `===` or with `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`
 * (through `Number()`), `$in` and `$nin`. What LangGraph would silently never match (an unknown operator, an object
 * compared by identity) is refused up front with `INVALID_ARGUMENT`.
 */
import { invalid } from './namespace.js'

/** A value a filter can compare a field with. */
export type FilterScalar = string | number | boolean | bigint | null | undefined

/** Comparison operators of a filter field; all given must hold. */
export interface FilterOperators {
  $eq?: FilterScalar
  $ne?: FilterScalar
  /** Compared as numbers (`Number(field) > Number(operand)`), so Dates compare by time. */
  $gt?: FilterScalar | Date
  $gte?: FilterScalar | Date
  $lt?: FilterScalar | Date
  $lte?: FilterScalar | Date
  $in?: FilterScalar[]
  $nin?: FilterScalar[]
}

/**
 * A search filter: every field must match. A scalar means equality (`===`).
 *
 * @example
 * { type: 'preference', score: { $gte: 0.5 }, lang: { $in: ['en', 'fr'] } }
 */
export type Filter = Record<string, FilterScalar | FilterOperators>

const OPERATORS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin'])

const isScalar = (v: unknown): boolean => v === null || (typeof v !== 'object' && typeof v !== 'function' && typeof v !== 'symbol')
const isPlain = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(v))

/** Throws `INVALID_ARGUMENT` for a filter LangGraph could not match as meant (see the module header). */
export function checkFilter(call: string, filter: unknown): asserts filter is Filter | undefined {
  if (filter === undefined) return
  if (!isPlain(filter)) throw invalid(call, 'filter must be a plain object of field → value or { $op: value }.')
  for (const [field, want] of Object.entries(filter)) {
    if (isScalar(want)) continue
    const ops = isPlain(want) ? Object.entries(want) : []
    if (ops.length === 0) {
      throw invalid(call, `filter field "${field}" holds ${Array.isArray(want) ? 'an array' : 'an object'}, which LangGraph compares by identity and so never matches: filter on a top-level scalar field, or use an operator such as { $in: [...] }.`)
    }
    for (const [op, operand] of ops) {
      if (!OPERATORS.has(op)) throw invalid(call, `filter field "${field}" uses "${op}": supported are ${[...OPERATORS].join(', ')} (LangGraph's operators).`)
      const ok = op === '$in' || op === '$nin' ? Array.isArray(operand) && operand.every(isScalar) : isScalar(operand) || (op !== '$eq' && op !== '$ne' && operand instanceof Date)
      if (!ok) throw invalid(call, `filter field "${field}": ${op} takes ${op === '$in' || op === '$nin' ? 'an array of scalars' : op === '$eq' || op === '$ne' ? 'a scalar (objects compare by identity and never match)' : 'a number, string, bigint or Date'}.`)
    }
  }
}

/** Whether an item's value matches a filter {@link checkFilter} accepted. Only own fields count. */
export function matches(value: Record<string, unknown>, filter: Filter | undefined): boolean {
  if (filter === undefined) return true
  for (const [field, want] of Object.entries(filter)) {
    const have = Object.hasOwn(value, field) ? value[field] : undefined
    if (!isPlain(want)) {
      if (have !== want) return false
      continue
    }
    for (const [op, operand] of Object.entries(want)) if (!compare(op, have, operand)) return false
  }
  return true
}

function compare(op: string, have: unknown, operand: unknown): boolean {
  switch (op) {
    case '$eq':
      return have === operand
    case '$ne':
      return have !== operand
    case '$gt':
      return Number(have) > Number(operand)
    case '$gte':
      return Number(have) >= Number(operand)
    case '$lt':
      return Number(have) < Number(operand)
    case '$lte':
      return Number(have) <= Number(operand)
    case '$in':
      return (operand as unknown[]).includes(have)
    default: // $nin
      return !(operand as unknown[]).includes(have)
  }
}
