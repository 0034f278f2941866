/** @module The compiled description of a graph that the run loop executes: nodes, edges, channels. */
import type { StorageAdapter } from '../checkpoint/adapter.js'
import type { Usage } from '../checkpoint/model.js'
import type { Store } from '../store/store.js'
import type { StandardSchemaV1 } from './schema.js'
import type { RunEvent } from './loop.js'

/**
 * What a node receives besides its input. Everything a node needs from the run comes through here
 * (no AsyncLocalStorage), so interrupts and usage reporting work the same in browsers, Workers and Node.
 */
export interface NodeContext {
  /** The thread being run; undefined for runs without a checkpointer. */
  readonly threadId: string | undefined
  /** The step being run (the checkpoint it will create has this step number). */
  readonly step: number
  /** This task's node name. */
  readonly node: string
  /** Aborted when the run's signal is aborted; pass it on to `fetch` and friends. */
  readonly signal: AbortSignal
  /**
   * Pauses the run for a human: the first time, the run ends and `value` shows up in `getState().interrupts`;
   * after `invoke(new Command({ resume }), { threadId })` the node runs again and this call returns `resume`.
   * Code before the call runs again on resume, so keep side effects after it. Do not catch what it throws.
   */
  interrupt<R = unknown>(value: unknown): R
  /**
   * Runs a side effect once per step: `fn`'s result is stored on the thread before the node goes on, and when the
   * step runs again (after an `interrupt()`, a failure, a crash) this returns the stored result without calling `fn`.
   * `fn` gets an idempotency key, `<threadId>:<checkpointId>:<task>:<name>`, the same on every attempt of the step:
   * pass it to the API you call, so an effect cut off before its result was stored (and run again) still lands once.
   * Names are unique per node call (a second call with one name is `INVALID_ARGUMENT`). Needs a checkpointer and
   * durability `sync` or `async`; the result must be storable, as state is (else `UNSERIALIZABLE`).
   *
   * @example
   * const charge = await ctx.effect('charge', ({ idempotencyKey }) => stripe.charges.create(order, { idempotencyKey }))
   */
  effect<T>(name: string, fn: (effect: { idempotencyKey: string }) => T | Promise<T>): Promise<T>
  /** Records token usage and cost on this step's checkpoint; totals are kept per thread. */
  reportUsage(usage: Partial<Usage>): void
  /** The cross-thread memory given as `compile({ store })` (see `edgegraph/store`), or undefined. */
  readonly store: Store | undefined
  /** Streams `chunk` as it is to `stream(..., { streamMode: 'custom' })` (LangGraph.js: `config.writer(chunk)`). */
  write(chunk: unknown): void
  /**
   * Streams a chunk of a message being produced (a token or more: `{ id, content }`, as a model's stream gives them)
   * to `streamMode: 'messages'` as `[chunk, { node, step, threadId }]`, so a chat UI can show tokens as they arrive.
   */
  writeMessage(chunk: unknown): void
}

/**
 * One state channel. Without a reducer, a write replaces the value (and two nodes writing it in the same
 * step is an error); with one, writes are folded in with `reducer(current, update)`.
 *
 * @example
 * const channels = {
 *   count: { default: () => 0 },
 *   messages: { default: (): string[] => [], reducer: (a: string[], b: string[]) => [...a, ...b] },
 * }
 */
export interface ChannelSpec<T = unknown, U = T> {
  /** Value of the channel in a new thread. */
  default?: () => T
  /** Folds a write into the current value. Must return a new value rather than mutate `current`. */
  reducer?: (current: T, update: U) => T
  /** Validates (and may transform) the channel's value whenever it changes. */
  schema?: StandardSchemaV1<unknown, T>
}

/** What a subgraph node gets from the parent run besides its input and context. */
export interface SubgraphCall {
  /** The parent run's event sink, namespaced under this task, so stream() sees inside the subgraph. */
  emit: (event: RunEvent) => void
  /** Where the subgraph keeps its own checkpoints: in the parent's thread, under namespace `ns`. */
  history: { adapter: StorageAdapter; threadId: string; ns: string } | undefined
  /** The answers the parent was given for this task in this run (`Command({ resume })`). */
  resume: unknown[]
}

export interface NodeSpec {
  name: string
  /** The compiled graph this node runs, when it is a subgraph (for drawing). */
  subgraph?: { readonly spec: GraphSpec } | undefined
  /** The node; a subgraph node also gets what it needs from the parent run (see {@link SubgraphCall}). */
  run: (input: unknown, ctx: NodeContext, call: SubgraphCall) => unknown
  /** Nodes this node may route to with `Command.goto` (used to check that END is reachable). */
  ends: string[] | undefined
  /** Runs only when a step would otherwise have nothing left to run (`addNode(..., { defer: true })`). */
  defer?: boolean | undefined
  /** How a failed call of this node is tried again (`addNode(..., { retryPolicy })`). */
  retry?: RetryPolicy | undefined
  /** When this node's result is reused instead of running it (`addNode(..., { cachePolicy })`). */
  cache?: CachePolicy | undefined
}

/**
 * Caches a node's result, LangGraph.js's `CachePolicy`: with `compile({ cache })`, a node whose key was seen within
 * `ttl` seconds (default: no expiry) is not run; its cached writes and routing are used. The key is `keyFunc([input])`,
 * by default `JSON.stringify([input])`.
 */
export interface CachePolicy {
  keyFunc?: (args: unknown[]) => string
  /** Seconds a cached result is used for. */
  ttl?: number
}

/**
 * Tries a failing node again, LangGraph.js's `RetryPolicy`: after attempt n fails, waits
 * `min(maxInterval, initialInterval × backoffFactor^(n-1))` ms (plus up to 1 s of jitter) and runs it again, up to
 * `maxAttempts` attempts in all. Attempts beyond the first are recorded in the checkpoint's `metadata.attempts`.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included. Default 3. */
  maxAttempts?: number
  /** Milliseconds before the second attempt. Default 500. */
  initialInterval?: number
  /** How much the wait grows after each attempt. Default 2. */
  backoffFactor?: number
  /** Longest wait, in milliseconds. Default 128 000. */
  maxInterval?: number
  /** Add up to 1 s at random to each wait, so many clients do not retry in step. Default true. */
  jitter?: boolean
  /**
   * Whether an error is worth another attempt. Default: any except edgegraph's own errors, aborts, and HTTP
   * statuses 400-407 and 409 on the error (`status` or `response.status`), as in LangGraph.js.
   */
  retryOn?: (error: unknown) => boolean
}

export interface BranchSpec {
  path: (state: never) => unknown
  pathMap: Record<string, string> | undefined
}

export interface GraphSpec {
  channels: Map<string, ChannelSpec>
  schema: StandardSchemaV1 | undefined
  nodes: Map<string, NodeSpec>
  edges: Map<string, string[]>
  branches: Map<string, BranchSpec[]>
  /** Waiting edges (`addEdge(['a', 'b'], 'c')`), keyed `a,b>c`: the target runs once every source has finished. */
  joins: Map<string, { sources: string[]; target: string }>
}
