/**
 * @module A view of an adapter that keeps a subgraph's history inside its parent's thread, under `s/<ns>/`: it is
 * stored, kept and deleted with the thread, and the parent's own keys (`h`, `c/`, `w/`, `a/`, `p/`, `k/`) never meet it.
 */
import type { Batch, ScanRange, StorageAdapter } from './adapter.js'

/** `adapter` as seen by the history of namespace `ns` (printable ASCII without `/`) inside each thread. */
export function namespaced(adapter: StorageAdapter, ns: string): StorageAdapter {
  const p = `s/${ns}/`
  const end = `s/${ns}0` // '0' sorts right after '/'
  return {
    name: adapter.name,
    limits: adapter.limits,
    get: (thread, keys) => adapter.get(thread, keys.map((k) => p + k)),
    async *scan(thread, range: ScanRange = {}) {
      const inner: ScanRange = { ...range, from: p + (range.from ?? ''), to: range.to === undefined ? end : p + range.to }
      for await (const [key, value] of adapter.scan(thread, inner)) yield [key.slice(p.length), value]
    },
    commit(thread, batch, guard) {
      const inner: Batch = {}
      if (batch.put) inner.put = batch.put.map(([k, v]) => [p + k, v])
      if (batch.del) inner.del = batch.del.map((k) => p + k)
      return adapter.commit(thread, inner, guard && { key: p + guard.key, expect: guard.expect })
    },
    // Never called by the history layer on a namespace: a subgraph's history goes with its parent's thread.
    deleteThread: async () => {},
    threads: () => adapter.threads(),
  }
}
