/**
 * @module The store contract, LangGraph's `BaseStore` without semantic search: what `createStore` returns and what
 * the run loop hands nodes. Types only, so core code can import them without pulling the store into its bundle.
 */
import type { Filter } from './filter.js'
import type { MatchCondition } from './namespace.js'

/** A stored item, as LangGraph's `Item`. Every read returns fresh copies: changing one changes nothing stored. */
export interface Item<V extends Record<string, unknown> = Record<string, unknown>> {
  /** The value, read back through the checkpoint serde (Dates, Maps, Sets, BigInts, Uint8Arrays round-trip). */
  value: V
  /** The item's key within its namespace. */
  key: string
  /** The item's namespace, e.g. `['memories', 'user-42']`. */
  namespace: string[]
  /** When the item was first put (kept by later puts; a put after a delete starts again). */
  createdAt: Date
  /** When the item was last put. */
  updatedAt: Date
}

/** Options of {@link Store.search}. */
export interface SearchOptions {
  /** Top-level value fields to match: `{ field: value }` (`===`) or `{ field: { $gt: 3 } }`; see {@link Filter}. */
  filter?: Filter
  /** At most this many items (default 10, as in LangGraph). */
  limit?: number
  /** Skip this many matching items first (default 0). */
  offset?: number
  /** Semantic search. Not supported: giving it fails with `INVALID_ARGUMENT` rather than being ignored. */
  query?: string
}

/** Options of {@link Store.listNamespaces}. */
export interface ListNamespacesOptions {
  /** Only namespaces starting with these labels (`*` matches any one label). */
  prefix?: string[]
  /** Only namespaces ending with these labels (`*` matches any one label). */
  suffix?: string[]
  /** Cut namespaces to their first `maxDepth` labels (duplicates listed once). */
  maxDepth?: number
  /** At most this many namespaces (default 100, as in LangGraph). */
  limit?: number
  /** Skip this many first (default 0). */
  offset?: number
}

/** A {@link Store.batch} read of one item. */
export interface GetOperation {
  namespace: string[]
  key: string
}

/** A {@link Store.batch} write: `value: null` deletes the item. */
export interface PutOperation {
  namespace: string[]
  key: string
  value: Record<string, unknown> | null
  /** Only `false` (do not index), since there is no semantic search to index for. */
  index?: false
}

/** A {@link Store.batch} search. */
export interface SearchOperation {
  namespacePrefix: string[]
  filter?: Filter
  limit?: number
  offset?: number
  query?: string
}

/** A {@link Store.batch} listing of namespaces. */
export interface ListNamespacesOperation {
  matchConditions?: MatchCondition[]
  maxDepth?: number
  limit: number
  offset: number
}

/** One operation of {@link Store.batch}, shaped as in LangGraph. */
export type Operation = GetOperation | SearchOperation | PutOperation | ListNamespacesOperation

/** What {@link Store.batch} returns for each operation, in order. */
export type OperationResults<Ops extends readonly Operation[]> = {
  [K in keyof Ops]: Ops[K] extends PutOperation ? void : Ops[K] extends SearchOperation ? Item[] : Ops[K] extends GetOperation ? Item | null : Ops[K] extends ListNamespacesOperation ? string[][] : never
}

/**
 * Long-term memory shared by every thread: items in namespaces, LangGraph's `BaseStore` without semantic search.
 * Made by `createStore(adapter)` from `edgegraph/store`.
 *
 * Items are ordered by namespace (label by label), then key, comparing Unicode code points: a namespace's own
 * items come before its children's. Each put and delete is atomic; see the README for what concurrent writers get.
 */
export interface Store {
  /** The adapter thread that holds this store: `.store/<name>`. */
  readonly thread: string
  /** The item at `namespace` and `key`, or `null`. */
  get<V extends Record<string, unknown> = Record<string, unknown>>(namespace: readonly string[], key: string): Promise<Item<V> | null>
  /**
   * Creates or replaces an item (a replaced item keeps its `createdAt`). `value` must be a plain object the
   * checkpoint serde can store; anything else fails with `UNSERIALIZABLE` or `INVALID_ARGUMENT` before anything is
   * written. `index` may only be `false`.
   *
   * @example
   * await store.put(['memories', userId], 'food', { likes: ['ramen'], since: new Date() })
   */
  put(namespace: readonly string[], key: string, value: object, index?: false): Promise<void>
  /** Deletes an item (nothing happens when there is none). */
  delete(namespace: readonly string[], key: string): Promise<void>
  /**
   * Items whose namespace starts with `namespacePrefix` (`[]`: all) and whose value matches `filter`, in item
   * order, `offset` skipped, at most `limit` (default 10).
   *
   * @example
   * await store.search(['memories', userId], { filter: { kind: 'fact', score: { $gte: 0.5 } }, limit: 20 })
   */
  search<V extends Record<string, unknown> = Record<string, unknown>>(namespacePrefix: readonly string[], options?: SearchOptions): Promise<Item<V>[]>
  /**
   * Namespaces holding at least one item, in order, optionally cut to `maxDepth` labels and filtered by
   * `prefix` / `suffix`.
   *
   * @example
   * await store.listNamespaces({ prefix: ['memories'], maxDepth: 2 })   // → [['memories', 'u1'], ['memories', 'u2']]
   */
  listNamespaces(options?: ListNamespacesOptions): Promise<string[][]>
  /**
   * Runs several operations, as LangGraph's `batch`: every read sees the store as it was before the batch's
   * writes, which are then applied in order (for one item, its last write wins), each atomic on its own. Every
   * operation is checked, and every value serialized, before anything is read or written.
   */
  batch<const Ops extends readonly Operation[]>(operations: Ops): Promise<OperationResults<Ops>>
}
