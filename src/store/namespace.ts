/**
 * @module Namespaces and keys as LangGraph accepts them (its `validateNamespace`), and the prefix and suffix
 * conditions of `listNamespaces`, with `*` matching any one label.
 */
import { EdgegraphError } from '../errors.js'

/** A condition of `listNamespaces`: the namespace starts (`prefix`) or ends (`suffix`) with `path`; `*` matches any label. */
export interface MatchCondition {
  matchType: 'prefix' | 'suffix'
  path: string[]
}

// Lone surrogates have no UTF-8 form, so they could not be stored and read back as they were.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

export function invalid(call: string, message: string): EdgegraphError {
  return new EdgegraphError('INVALID_ARGUMENT', `store.${call}: ${message}`)
}

/**
 * Throws `INVALID_ARGUMENT` unless `namespace` is an array of labels as LangGraph allows them: non-empty strings
 * without `.`, `:` or NUL (which LangGraph's stores use as separators), well-formed Unicode; the array itself
 * non-empty unless `allowEmpty` (a search or listing of everything), and not rooted at `langgraph` when `forWrite`.
 */
export function checkNamespace(call: string, namespace: unknown, options: { allowEmpty?: boolean; forWrite?: boolean } = {}): asserts namespace is string[] {
  if (!Array.isArray(namespace)) throw invalid(call, `the namespace must be an array of strings, got ${typeof namespace}.`)
  if (namespace.length === 0 && options.allowEmpty !== true) throw invalid(call, 'the namespace must have at least one label, e.g. ["memories", userId].')
  for (const label of namespace) {
    if (typeof label !== 'string' || label === '' || /[.:\0]/.test(label) || LONE_SURROGATE.test(label)) {
      throw invalid(call, `namespace label ${typeof label === 'string' ? JSON.stringify(label) : typeof label} in ${JSON.stringify(namespace)} is not allowed: labels are non-empty strings without ".", ":" or NUL, as in LangGraph.`)
    }
  }
  if (options.forWrite === true && namespace[0] === 'langgraph') throw invalid(call, 'the root label "langgraph" is reserved, as in LangGraph.')
}

/** Throws `INVALID_ARGUMENT` unless `key` is a string of well-formed Unicode (any such string, "" too, as in LangGraph). */
export function checkKey(call: string, key: unknown): asserts key is string {
  if (typeof key !== 'string' || LONE_SURROGATE.test(key)) throw invalid(call, `the key must be a string of well-formed Unicode, got ${typeof key === 'string' ? 'a string with a lone surrogate' : typeof key}.`)
}

/** Whether `namespace` meets `condition`. */
export function meets(condition: MatchCondition, namespace: readonly string[]): boolean {
  const { path } = condition
  if (path.length > namespace.length) return false
  const offset = condition.matchType === 'prefix' ? 0 : namespace.length - path.length
  return path.every((label, i) => label === '*' || label === namespace[offset + i])
}
