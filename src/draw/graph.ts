/**
 * @module The drawable graph that `getGraph` returns: nodes and edges, the Mermaid text and the JSON form, after
 * `@langchain/core`'s `Graph` (the object LangGraph.js's `getGraph()` returns), so drawings match LangGraph's.
 */
import { checkOptions } from '../run/options.js'
import { drawMermaid, type MermaidOptions } from './mermaid.js'

/** A node of a drawing. `id` is unique (a subgraph's nodes drawn with `xray` get `subgraph:node`); `name` is the label. */
export interface DrawnNode {
  readonly id: string
  readonly name: string
}

/** An edge of a drawing: solid, or dashed when `conditional`; `data` is its label (a path-map key). */
export interface DrawnEdge {
  readonly source: string
  readonly target: string
  readonly data?: string
  readonly conditional: boolean
}

const MERMAID_OPTIONS = {
  withStyles: [(v: unknown) => typeof v === 'boolean', 'true or false'],
  curveStyle: [(v: unknown) => typeof v === 'string', 'a string (a Mermaid curve, such as "linear" or "basis")'],
  nodeColors: [(v: unknown) => typeof v === 'object' && v !== null && Object.values(v).every((c) => typeof c === 'string'), 'an object of class name to Mermaid style'],
  wrapLabelNWords: [(v: unknown) => Number.isInteger(v) && (v as number) >= 1, 'a whole number ≥ 1'],
} as const

/**
 * What `getGraph(compiledGraph)` returns: LangGraph.js's drawable graph. Draw it with `drawMermaid()`; `toJSON()`
 * lists the nodes and edges.
 */
export class DrawableGraph {
  /** The nodes by id, START (`__start__`) first and END (`__end__`, when something reaches it) last, as LangGraph orders them. */
  readonly nodes: Record<string, DrawnNode> = {}
  /** The edges, in LangGraph's order: plain and waiting edges by source, then conditional edges, then `ends`. */
  readonly edges: DrawnEdge[] = []

  /**
   * The graph as a Mermaid flowchart, the same text LangGraph.js's `drawMermaid()` gives for the same graph.
   * Options as LangGraph's: `withStyles` (default true: the init line, node shapes and `classDef`s), `curveStyle`
   * (`'linear'`), `nodeColors` (styles of the `default`, `first` and `last` classes), `wrapLabelNWords` (9).
   *
   * @example
   * import { getGraph } from 'edgegraph/draw'
   * console.log(getGraph(graph).drawMermaid())   // paste into https://mermaid.live or a Markdown ```mermaid block
   */
  drawMermaid(options: MermaidOptions = {}): string {
    checkOptions(options, MERMAID_OPTIONS, 'drawMermaid options')
    return drawMermaid(this.nodes, this.edges, firstNode(this)?.id, lastNode(this)?.id, options)
  }

  /** The nodes as a list and the edges, in the shape of LangGraph.js's `toJSON()` (whose nodes also describe their runnable). */
  toJSON(): { nodes: DrawnNode[]; edges: DrawnEdge[] } {
    return { nodes: Object.values(this.nodes).map((n) => ({ ...n })), edges: this.edges.map((e) => ({ ...e })) }
  }
}

export function addNode(graph: DrawableGraph, id: string, name = id): string {
  graph.nodes[id] = { id, name }
  return id
}

export function addEdge(graph: DrawableGraph, source: string, target: string, data: string | undefined, conditional: boolean): void {
  graph.edges.push(data === undefined ? { source, target, conditional } : { source, target, data, conditional })
}

/** The one node no edge leads to (ignoring edges from `exclude`), or undefined when there is none or several. */
export function firstNode(graph: DrawableGraph, exclude?: string): DrawnNode | undefined {
  const targets = new Set(graph.edges.filter((e) => e.source !== exclude).map((e) => e.target))
  return only(Object.values(graph.nodes).filter((n) => n.id !== exclude && !targets.has(n.id)))
}

/** The one node no edge leaves (ignoring edges to `exclude`), or undefined when there is none or several. */
export function lastNode(graph: DrawableGraph, exclude?: string): DrawnNode | undefined {
  const sources = new Set(graph.edges.filter((e) => e.target !== exclude).map((e) => e.source))
  return only(Object.values(graph.nodes).filter((n) => n.id !== exclude && !sources.has(n.id)))
}

const only = <T>(list: T[]): T | undefined => (list.length === 1 ? list[0] : undefined)

/**
 * Drops a subgraph's START and END before it is drawn inside its parent, each only when one node takes its place
 * (a subgraph that starts two nodes at once keeps its `__start__`, as in LangGraph).
 */
export function trimEnds(graph: DrawableGraph): void {
  const first = firstNode(graph)
  if (first && firstNode(graph, first.id)) removeNode(graph, first.id)
  const last = lastNode(graph)
  if (last && lastNode(graph, last.id)) removeNode(graph, last.id)
}

function removeNode(graph: DrawableGraph, id: string): void {
  delete graph.nodes[id]
  const kept = graph.edges.filter((e) => e.source !== id && e.target !== id)
  graph.edges.splice(0, graph.edges.length, ...kept)
}

/** Copies `sub`'s nodes and edges into `graph` with ids prefixed `prefix:`; returns the ids of its first and last nodes. */
export function extend(graph: DrawableGraph, sub: DrawableGraph, prefix: string): [first: string | undefined, last: string | undefined] {
  const prefixed = (id: string) => `${prefix}:${id}`
  for (const node of Object.values(sub.nodes)) graph.nodes[prefixed(node.id)] = { id: prefixed(node.id), name: node.name }
  for (const e of sub.edges) graph.edges.push({ ...e, source: prefixed(e.source), target: prefixed(e.target) })
  const first = firstNode(sub)
  const last = lastNode(sub)
  return [first && prefixed(first.id), last && prefixed(last.id)]
}
