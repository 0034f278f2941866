/** @module The graph builder: declare channels, add nodes and edges, compile to a runnable graph. */
import { EdgegraphError } from '../errors.js'
import { END, START, type Command, type Send } from '../run/command.js'
import { CompiledGraph } from '../run/compiled.js'
import type { CompileOptions } from '../run/config.js'
import { CACHE_OPTIONS, NODE_OPTIONS, RETRY_OPTIONS, checkOptions } from '../run/options.js'
import { isStandardSchema } from '../run/schema.js'
import type { BranchSpec, CachePolicy, ChannelSpec, GraphSpec, NodeContext, NodeSpec, RetryPolicy } from '../run/spec.js'
import type { AnyChannelSpec, StateDefinition, StateOf, UpdateOf } from './channels.js'

type MaybePromise<T> = T | Promise<T>

/** What a node may return: a state update, a `Command`, or nothing. */
export type NodeResult<D extends StateDefinition> = MaybePromise<UpdateOf<D> | Command<UpdateOf<D>> | undefined | void>
/** A node function: gets the state (or its `Send` argument) and the run context. */
export type NodeFunction<D extends StateDefinition> = (state: StateOf<D>, ctx: NodeContext) => NodeResult<D>

/** Where a conditional edge may lead: a node name, END, a `Send`, or a list of them. */
export type Route<N extends string> = N | typeof END | Send | (N | typeof END | Send)[]

/**
 * Builds a graph of nodes over shared state channels, LangGraph style.
 *
 * @example
 * const graph = new StateGraph({ count: { default: () => 0 } })
 *   .addNode('increment', (s) => ({ count: s.count + 1 }))
 *   .addEdge(START, 'increment')
 *   .addConditionalEdges('increment', (s) => (s.count >= 5 ? END : 'increment'))
 *   .compile({ checkpointer: createMemoryAdapter() })
 */
export class StateGraph<D extends StateDefinition, N extends string = never> {
  #spec: GraphSpec
  #problems: string[] = []

  /**
   * `definition`: channel specs, or a Standard Schema (zod...) validating the whole state. With a schema,
   * `options.channels` gives fields a reducer and default (LangGraph.js: the zod registry's `reducer`), e.g.
   * `new StateGraph(z.object({ log: z.array(z.string()) }), { channels: { log: { reducer: (a, b) => [...a, ...b], default: () => [] } } })`.
   */
  constructor(definition: D, options: { channels?: Record<string, AnyChannelSpec> } = {}) {
    const channels = new Map<string, ChannelSpec>()
    let schema
    checkOptions(options, { channels: [(v) => isStandardSchema(definition) && typeof v === 'object' && v !== null, 'an object of channel specs, for a Standard Schema state'] as const }, 'new StateGraph options')
    if (isStandardSchema(definition)) {
      schema = definition
      for (const [name, ch] of Object.entries(options.channels ?? {})) channels.set(name, ch)
    } else if (definition && typeof definition === 'object') {
      for (const [name, ch] of Object.entries(definition)) {
        if (!ch || typeof ch !== 'object') this.#problems.push(`channel "${name}" must be an object like { default, reducer }`)
        channels.set(name, ch ?? {})
      }
    } else throw new EdgegraphError('INVALID_GRAPH', 'new StateGraph(...) takes channel definitions (an object) or a Standard Schema such as a zod object')
    this.#spec = { channels, schema, nodes: new Map(), edges: new Map(), branches: new Map(), joins: new Map() }
  }

  /**
   * Adds a node: a function, or a compiled graph (a subgraph, run as one step of this graph, compiled without a
   * checkpointer). `options.ends` lists where the node may route with `Command.goto`, so `compile` can check that
   * END is reachable. Any other option is refused with `INVALID_ARGUMENT`.
   */
  addNode<K extends string>(
    name: K,
    node: NodeFunction<D> | CompiledGraph<StateDefinition, string>,
    options: { ends?: (N | K | typeof END)[]; defer?: boolean; retryPolicy?: RetryPolicy; cachePolicy?: CachePolicy | boolean } = {},
  ): StateGraph<D, N | K> {
    if (typeof name !== 'string' || name === '' || name.startsWith('__')) this.#problems.push(`node name ${JSON.stringify(name)} is empty or starts with the reserved "__"`)
    else if (this.#spec.nodes.has(name)) this.#problems.push(`node "${name}" is added twice`)
    else if (this.#spec.channels.has(name)) this.#problems.push(`node "${name}" has the same name as a state channel`)
    checkOptions(options, NODE_OPTIONS, `addNode("${String(name)}") options`)
    checkOptions(options.retryPolicy, RETRY_OPTIONS, `addNode("${String(name)}") retryPolicy`)
    const cache = options.cachePolicy === true ? {} : options.cachePolicy || undefined
    checkOptions(cache, CACHE_OPTIONS, `addNode("${String(name)}") cachePolicy`)
    let run: NodeSpec['run']
    if (node instanceof CompiledGraph) {
      const problem = node.subgraphProblem()
      if (problem !== undefined) throw new EdgegraphError('INVALID_ARGUMENT', `addNode("${String(name)}", subgraph): ${problem}.`)
      const parent = this.#spec
      run = (input, ctx, call) => node.runAsNode(input as Record<string, unknown>, ctx, parent, call)
    }
    else if (typeof node === 'function') run = node as NodeSpec['run']
    else {
      this.#problems.push(`node "${name}" must be a function or a compiled graph`)
      run = () => undefined
    }
    this.#spec.nodes.set(name, { name, run, ends: options.ends, defer: options.defer, retry: options.retryPolicy, cache, subgraph: node instanceof CompiledGraph ? node : undefined })
    return this as unknown as StateGraph<D, N | K>
  }

  /**
   * Adds an edge: after `from` runs, `to` runs in the next step. With a list, a waiting edge: `to` runs once, in the
   * step after the last of them finished (they may finish in different steps), as in LangGraph.js.
   */
  addEdge(from: N | typeof START | (N | typeof START)[], to: N | typeof END): this {
    if (Array.isArray(from)) this.#spec.joins.set(`${from}>${to}`, { sources: from, target: to })
    else this.#spec.edges.set(from, [...(this.#spec.edges.get(from) ?? []), to])
    return this
  }

  /**
   * Adds a conditional edge: after `from` runs, `path(state)` picks where to go (a node, END, `Send`s or a list).
   * With `pathMap`, `path` returns keys of the map (or an array of allowed targets), which also tells
   * `compile` where the edge can lead.
   */
  addConditionalEdges<R extends string | Send | typeof END | (string | Send | typeof END)[]>(
    from: N | typeof START,
    path: (state: StateOf<D>) => MaybePromise<R>,
    pathMap?: Record<string, N | typeof END> | (N | typeof END)[],
  ): this {
    if (typeof path !== 'function') this.#problems.push(`the conditional edge from "${from}" needs a function`)
    const map = Array.isArray(pathMap) ? Object.fromEntries(pathMap.map((t) => [t, t])) : pathMap
    const list = this.#spec.branches.get(from) ?? []
    list.push({ path: path as BranchSpec['path'], pathMap: map })
    this.#spec.branches.set(from, list)
    return this
  }

  /** Checks the graph and returns a runnable one. Throws `INVALID_GRAPH` listing every problem found. */
  compile(options: CompileOptions<N> = {}): CompiledGraph<D, N> {
    const problems = [...this.#problems, ...validate(this.#spec, options)]
    if (problems.length > 0) {
      throw new EdgegraphError('INVALID_GRAPH', `The graph cannot be compiled:\n- ${problems.join('\n- ')}`)
    }
    return new CompiledGraph<D, N>(this.#spec, options)
  }
}

function validate(spec: GraphSpec, options: CompileOptions<string>): string[] {
  const problems: string[] = []
  /** Reports `name` when it is not a node (END passes where `endOk`), as `<where> unknown node "<name>"`. */
  const node = (name: string, where: string, endOk = true) => {
    if (!spec.nodes.has(name) && !(endOk && name === END)) problems.push(`${where} unknown node "${name}"`)
  }
  // START and END are not nodes: an edge from END or to START names them as unknown nodes.
  for (const [from, targets] of spec.edges) {
    if (from !== START) node(from, 'an edge starts at', false)
    for (const to of targets) node(to, `an edge from "${from}" goes to`)
  }
  for (const [from, branches] of spec.branches) {
    if (from !== START) node(from, 'a conditional edge starts at', false)
    for (const b of branches) for (const to of Object.values(b.pathMap ?? {})) node(to, `the conditional edge from "${from}" maps to`)
  }
  for (const n of spec.nodes.values()) for (const to of n.ends ?? []) node(to, `node "${n.name}" declares it may go to`)
  for (const [key, j] of spec.joins) for (const n of [...j.sources, j.target]) if (n !== START) node(n, `the waiting edge ${key} names`)
  for (const name of options.interruptBefore ?? []) node(name, 'interruptBefore names', false)
  for (const name of options.interruptAfter ?? []) node(name, 'interruptAfter names', false)
  if (!spec.edges.has(START) && !spec.branches.has(START)) problems.push('nothing starts the graph: add an edge from START')
  if (problems.length > 0) return problems

  // Reachability. Where routing is decided at run time without a declared set of targets (a conditional
  // edge without a path map, a node without edges that may return Command.goto), anything is reachable.
  const targets = (from: string): string[] | 'any' => {
    const out = [...(spec.edges.get(from) ?? [])]
    for (const j of spec.joins.values()) if (j.sources.includes(from)) out.push(j.target)
    for (const b of spec.branches.get(from) ?? []) {
      if (!b.pathMap) return 'any'
      out.push(...Object.values(b.pathMap))
    }
    const ends = spec.nodes.get(from)?.ends
    if (ends) out.push(...ends)
    else if (from !== START && out.length === 0) return 'any'
    return out
  }
  const seen = new Set<string>()
  const queue = [START]
  let endReachable = false
  while (queue.length > 0) {
    const from = queue.pop() as string
    const next = targets(from)
    const list = next === 'any' ? [...spec.nodes.keys(), END] : next
    for (const to of list) {
      if (to === END) endReachable = true
      else if (!seen.has(to)) {
        seen.add(to)
        queue.push(to)
      }
    }
  }
  if (!endReachable) problems.push('END is unreachable: every path loops forever; add an edge to END')
  for (const name of spec.nodes.keys()) if (!seen.has(name)) problems.push(`node "${name}" is unreachable from START`)
  return problems
}

