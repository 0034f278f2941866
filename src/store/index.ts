/**
 * @module edgegraph/store: cross-thread memory, LangGraph's `BaseStore` kept in any storage adapter.
 *
 * @example
 * import { createStore } from 'edgegraph/store'
 * const store = createStore(createMemoryAdapter())
 * await store.put(['memories', 'user-42'], 'food', { likes: ['ramen'] })
 */
export { createStore, STORE_THREAD_PREFIX, type StoreOptions } from './create-store.js'
export type { Filter, FilterOperators, FilterScalar } from './filter.js'
export type { MatchCondition } from './namespace.js'
export type { GetOperation, Item, ListNamespacesOperation, ListNamespacesOptions, Operation, OperationResults, PutOperation, SearchOperation, SearchOptions, Store } from './store.js'
