/** @module The compiled description of a graph that the run loop executes: nodes, edges, channels. */
import type { ChannelSpec, StandardSchemaV1 } from '../graph/channels.js'
import type { Usage } from '../checkpoint/record.js'

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
  /** Records token usage and cost on this step's checkpoint; totals are kept per thread. */
  reportUsage(usage: Partial<Usage>): void
}

export interface NodeSpec {
  name: string
  run: (input: unknown, ctx: NodeContext) => unknown
  /** Nodes this node may route to with `Command.goto` (used to check that END is reachable). */
  ends: string[] | undefined
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
}
