/**
 * @module edgegraph/draw: draws a compiled graph as LangGraph.js draws it (`graph.getGraph().drawMermaid()` becomes
 * `getGraph(graph).drawMermaid()`). A function in its own entry point rather than a method, so that graphs that
 * never draw do not carry the drawing code in their bundle.
 */
import { EdgegraphError } from '../errors.js'
import type { StateDefinition } from '../graph/channels.js'
import { END, START } from '../run/command.js'
import type { CompiledGraph } from '../run/compiled.js'
import { checkOptions } from '../run/options.js'
import type { GraphSpec } from '../run/spec.js'
import { DrawableGraph, addEdge, addNode, extend, trimEnds } from './graph.js'

export { DrawableGraph, type DrawnEdge, type DrawnNode } from './graph.js'
export type { MermaidOptions } from './mermaid.js'

/** `getGraph` options. */
export interface GetGraphOptions {
  /**
   * Draw subgraph nodes as their own nodes, in a `subgraph` block with ids prefixed `node:`: `true` at every
   * depth, a number for that many levels. Default false: a subgraph is one node.
   */
  xray?: boolean | number
}

const GRAPH_OPTIONS = { xray: [(v: unknown) => typeof v === 'boolean' || (Number.isInteger(v) && (v as number) >= 0), 'true, false or a whole number ≥ 0'] } as const

/**
 * The drawable form of a compiled graph, as LangGraph.js's `graph.getGraph()`: `__start__` and `__end__`, plain and
 * waiting edges solid (a waiting edge `['a', 'b'] → 'c'` as `a → c` and `b → c`), conditional edges dashed, labelled
 * with their path-map keys where a key is not the target's name (without a path map, dashed to every other node
 * and END), and dashed edges to the `ends` a node may reach with `Command.goto`.
 *
 * @example
 * import { getGraph } from 'edgegraph/draw'
 * const mermaid = getGraph(graph, { xray: true }).drawMermaid()
 */
export function getGraph(graph: CompiledGraph<StateDefinition, string>, options: GetGraphOptions = {}): DrawableGraph {
  checkOptions(options, GRAPH_OPTIONS, 'getGraph options')
  const spec = (graph as { spec?: GraphSpec } | null | undefined)?.spec
  if (spec === undefined) throw new EdgegraphError('INVALID_ARGUMENT', 'getGraph(graph) takes a compiled graph: call .compile() on the StateGraph first')
  return draw(spec, options.xray ?? false)
}

/** LangGraph quotes a node named `subgraph`, a Mermaid keyword, in its ids. */
const escape = (name: string) => (name === 'subgraph' ? `"${name}"` : name)

// Written after LangGraph.js 1.7.3's CompiledGraph.getGraph, step by step, so the same graph gives the same drawing.
function draw(spec: GraphSpec, xray: boolean | number): DrawableGraph {
  const graph = new DrawableGraph()
  // Where edges leaving / reaching each node start and end: the node itself, or inside its expanded subgraph.
  const leaving = new Map<string, string>([[START, addNode(graph, START)]])
  const reaching = new Map<string, string>()
  const drawn: { from: string; to: string; conditional: boolean }[] = []
  const edge = (from: string, to: string, label?: string, conditional = false) => {
    if (to === END && !reaching.has(END)) reaching.set(END, addNode(graph, END))
    const source = leaving.get(from)
    const target = reaching.get(to)
    // An expanded subgraph with no single last node has no point for its outgoing edges; LangGraph leaves them out.
    if (source === undefined || target === undefined) return
    drawn.push({ from, to, conditional })
    addEdge(graph, source, target, label !== to ? label : undefined, conditional)
  }

  // In object order (integer-like names first), as LangGraph keeps its nodes and branches in objects.
  const nodes = Object.entries(Object.fromEntries(spec.nodes))
  for (const [name, node] of nodes) {
    const id = escape(name)
    const sub = xray !== false && xray !== 0 && node.subgraph ? draw(node.subgraph.spec, xray === true ? true : xray - 1) : undefined
    if (sub) trimEnds(sub)
    if (sub && Object.keys(sub.nodes).length > 1) {
      const [first, last] = extend(graph, sub, id)
      if (last !== undefined) leaving.set(id, last)
      if (first !== undefined) reaching.set(id, first)
    } else {
      addNode(graph, id)
      leaving.set(id, id)
      reaching.set(id, id)
    }
  }

  const plain: [string, string][] = []
  for (const [from, targets] of spec.edges) for (const to of targets) plain.push([from, to])
  for (const join of spec.joins.values()) for (const from of join.sources) plain.push([from, join.target])
  // By source only, in the order added otherwise (waiting edges after plain ones), as LangGraph sorts them.
  plain.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  for (const [from, to] of plain) edge(escape(from), escape(to))

  for (const [from, branches] of Object.entries(Object.fromEntries(spec.branches))) {
    // Without a path map, a conditional edge may lead anywhere: LangGraph draws it to every other node and END.
    const anywhere: Record<string, string> = {}
    for (const name of spec.nodes.keys()) if (name !== from) anywhere[escape(name)] = escape(name)
    anywhere[END] = END
    for (const branch of branches) for (const [label, to] of Object.entries(branch.pathMap ?? anywhere)) edge(escape(from), escape(to), label, true)
  }
  for (const [name, node] of nodes) for (const to of node.ends ?? []) edge(escape(name), escape(to), undefined, true)

  // A node reached by a plain edge that leads nowhere ends the run: drawn with an edge to END, as LangGraph does.
  const sources = new Set(drawn.map((e) => e.from))
  const sinks = [...new Set(drawn.filter((e) => !e.conditional && e.to !== END).map((e) => e.to))].sort()
  for (const name of sinks) if (!sources.has(name)) edge(name, END)
  return graph
}
