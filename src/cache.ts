/**
 * @module `edgegraph/cache`: node caching (`addNode(..., { cachePolicy })` with `compile({ cache })`), kept in any
 * storage adapter as a cross-thread store, so a node run again with the same input is not run again.
 */
import type { StorageAdapter } from './checkpoint/adapter.js'
import type { TaskRef } from './checkpoint/model.js'
import { createStore } from './store/create-store.js'

/** What a cached node did: its writes and where it routed (`Command.goto`, `Send`). */
export interface CachedResult {
  writes: [channel: string, value: unknown][]
  goto: TaskRef[]
}

/**
 * Where nodes' results are cached: `compile({ cache })`. `key` is the node's cache key (its `cachePolicy.keyFunc`
 * of `[input]`, or `JSON.stringify([input])`, as in LangGraph.js); `ttl` is in seconds (none: kept until cleared).
 */
export interface NodeCache {
  get(node: string, key: string): Promise<CachedResult | undefined>
  set(node: string, key: string, result: CachedResult, ttl: number | undefined): Promise<void>
}

/**
 * A {@link NodeCache} kept in `adapter` (the same one as the checkpoints, if you like), in the cross-thread store
 * `name` (default `'node-cache'`; see `edgegraph/store`). Keys are SHA-256 of the cache key, so inputs of any size fit.
 *
 * @example
 * const graph = builder
 *   .addNode('embed', embed, { cachePolicy: { ttl: 3600 } })
 *   .compile({ checkpointer: adapter, cache: createCache(adapter) })
 */
export function createCache(adapter: StorageAdapter, options: { name?: string } = {}): NodeCache {
  const store = createStore(adapter, { name: options.name ?? 'node-cache' })
  const hash = async (key: string) => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key))), (b) => b.toString(16).padStart(2, '0')).join('')
  return {
    async get(node, key) {
      const item = await store.get(['nodes', node], await hash(key))
      const value = item?.value as (CachedResult & { until?: number }) | undefined
      return value && (value.until === undefined || value.until > Date.now()) ? { writes: value.writes, goto: value.goto } : undefined
    },
    async set(node, key, result, ttl) {
      await store.put(['nodes', node], await hash(key), { ...result, ...(ttl === undefined ? {} : { until: Date.now() + ttl * 1000 }) })
    },
  }
}
