/** @module Routing values: START/END, `Send` for fan-out, `Command` to update-and-route or to resume. */

/** The virtual node a run starts from. */
export const START = '__start__'
/** The virtual node that ends a run. */
export const END = '__end__'

/**
 * Runs `node` with `arg` as its input instead of the state: one task per `Send`, so a conditional edge can
 * fan out over a list (map-reduce).
 *
 * @example
 * .addConditionalEdges('plan', (s) => s.topics.map((t) => new Send('write', { topic: t })))
 */
export class Send<A = unknown> {
  readonly node: string
  readonly arg: A
  constructor(node: string, arg: A) {
    this.node = node
    this.arg = arg
  }
}

/**
 * Returned by a node to update state and choose where to go next in one value; passed to `invoke` to
 * answer an `interrupt()` with `resume`.
 *
 * @example
 * return new Command({ update: { approved: true }, goto: 'ship' })       // inside a node
 * await graph.invoke(new Command({ resume: 'yes' }), { threadId })         // answering an interrupt
 */
export class Command<U = Record<string, unknown>> {
  /** `graph: Command.PARENT` sends the command to the parent graph: a subgraph node updates and routes there. */
  static readonly PARENT = '__parent__'
  readonly update: U | undefined
  readonly goto: string | Send | (string | Send)[] | undefined
  readonly resume: unknown
  readonly hasResume: boolean
  readonly graph: string | undefined
  constructor(options: { update?: U; goto?: string | Send | (string | Send)[]; resume?: unknown; graph?: string }) {
    this.update = options.update
    this.goto = options.goto
    this.resume = options.resume
    this.hasResume = 'resume' in options
    this.graph = options.graph
  }
}
