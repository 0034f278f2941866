/**
 * @module Mermaid flowchart text for a drawable graph, written as `@langchain/core`'s `drawMermaid` writes it (same
 * ids, shapes, edge arrows and labels, `subgraph` blocks and styles), so a ported app's drawings do not change.
 */
import type { DrawnEdge, DrawnNode } from './graph.js'

/** `drawMermaid` options, as LangGraph.js's. */
export interface MermaidOptions {
  /** The init line, node shapes and `classDef`s (default true); false gives only `graph TD;` and the edges. */
  withStyles?: boolean
  /** Mermaid's flowchart curve (default `'linear'`). */
  curveStyle?: string
  /** Styles of the node classes `default`, `first` (START) and `last` (END); replaces the default styles. */
  nodeColors?: Record<string, string>
  /** Edge labels longer than this many words are wrapped (default 9). */
  wrapLabelNWords?: number
}

const DEFAULT_COLORS = { default: 'fill:#f2f0ff,line-height:1.2', first: 'fill-opacity:0', last: 'fill:#bfb6fc' }
const MARKDOWN = ['*', '_', '`']

/** Mermaid ids allow letters, digits, `-` and `_`: anything else becomes `_`, as in LangGraph. */
const mermaidId = (id: string) => id.replace(/[^a-zA-Z-_0-9]/g, '_')

export function drawMermaid(
  nodes: Record<string, DrawnNode>,
  edges: readonly DrawnEdge[],
  first: string | undefined,
  last: string | undefined,
  options: MermaidOptions,
): string {
  const { withStyles = true, curveStyle = 'linear', nodeColors = DEFAULT_COLORS, wrapLabelNWords = 9 } = options
  let out = withStyles ? `%%{init: {'flowchart': {'curve': '${curveStyle}'}}}%%\ngraph TD;\n` : 'graph TD;\n'
  if (withStyles) {
    for (const [id, node] of Object.entries(nodes)) {
      const name = node.name.split(':').pop() ?? ''
      // A name like `__start__` would be read as Markdown emphasis.
      const label = MARKDOWN.some((c) => name.startsWith(c) && name.endsWith(c)) ? `<p>${name}</p>` : name
      const shaped = id === first ? `([${label}]):::first` : id === last ? `([${label}]):::last` : `(${label})`
      out += `\t${mermaidId(id)}${shaped}\n`
    }
  }

  // Edges are grouped by what their ends' ids share (`sub:a` and `sub:b` share `sub`), and each group but the
  // top one is drawn in a `subgraph` block, nested as the ids are. LangGraph's grouping is kept as it is, quirks
  // included (it compares id parts position by position, and a lone self-loop gets no block).
  const groups: Record<string, DrawnEdge[]> = {}
  for (const edge of edges) {
    const target = edge.target.split(':')
    const prefix = edge.source.split(':').filter((part, i) => part === target[i]).join(':')
    ;(groups[prefix] ??= []).push(edge)
  }
  const depth = (prefix: string) => prefix.split(':').length
  const block = (list: DrawnEdge[], prefix: string) => {
    const selfLoop = list.length === 1 && list[0]?.source === list[0]?.target
    if (prefix && !selfLoop) out += `\tsubgraph ${prefix.split(':').pop()}\n`
    const nested = Object.keys(groups)
      .filter((p) => p.startsWith(`${prefix}:`) && depth(p) === depth(prefix) + 1)
      .sort((a, b) => depth(a) - depth(b))
    for (const p of nested) block(groups[p] ?? [], p)
    for (const { source, target, data, conditional } of list) {
      let arrow = conditional ? ' -.-> ' : ' --> '
      if (data !== undefined) {
        const words = data.split(' ')
        const lines = []
        for (let i = 0; i < words.length; i += wrapLabelNWords) lines.push(words.slice(i, i + wrapLabelNWords).join(' '))
        const text = lines.join('&nbsp;<br>&nbsp;')
        arrow = conditional ? ` -. &nbsp;${text}&nbsp; .-> ` : ` -- &nbsp;${text}&nbsp; --> `
      }
      out += `\t${mermaidId(source)}${arrow}${mermaidId(target)};\n`
    }
    if (prefix && !selfLoop) out += '\tend\n'
  }
  block(groups[''] ?? [], '')
  for (const prefix in groups) if (!prefix.includes(':') && prefix !== '') block(groups[prefix] ?? [], prefix)
  if (withStyles) for (const [name, style] of Object.entries(nodeColors)) out += `\tclassDef ${name} ${style};\n`
  return out
}
