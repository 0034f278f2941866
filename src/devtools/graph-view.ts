/**
 * @module The graph drawn as SVG: a layered layout (rank = longest path from `__start__`, loops routed back up the
 * right side), small enough to ship instead of a Mermaid renderer.
 */
import type { DrawableGraph, DrawnEdge } from '../draw/graph.js'
import { s } from './dom.js'

const H = 30 // node height
const GAP_X = 20
const GAP_Y = 44
const PAD = 12
const LOOP = 28 // how far loops and back edges bulge right of their nodes

interface Box {
  id: string
  name: string
  rank: number
  x: number // centre
  y: number // centre
  w: number
}

/** Places every node: rank by longest path over the graph without its back edges, then rows centred. */
function layout(graph: DrawableGraph): { boxes: Map<string, Box>; width: number; height: number } {
  const ids = Object.keys(graph.nodes)
  const out = new Map<string, DrawnEdge[]>(ids.map((id) => [id, []]))
  for (const e of graph.edges) out.get(e.source)?.push(e)

  // Depth-first from __start__ (then anything it misses): an edge to a node still on the stack closes a loop.
  const back = new Set<DrawnEdge>()
  const state = new Map<string, 1 | 2>()
  const order: string[] = []
  const visit = (id: string) => {
    state.set(id, 1)
    for (const e of out.get(id) ?? []) {
      const seen = state.get(e.target)
      if (seen === 1) back.add(e)
      else if (seen === undefined && out.has(e.target)) visit(e.target)
    }
    state.set(id, 2)
    order.unshift(id)
  }
  for (const id of ids) if (!state.has(id)) visit(id)

  const rank = new Map<string, number>(ids.map((id) => [id, 0]))
  for (const id of order) {
    for (const e of out.get(id) ?? []) if (!back.has(e)) rank.set(e.target, Math.max(rank.get(e.target) ?? 0, (rank.get(id) ?? 0) + 1))
  }
  // END sits alone on the last row, where a reader looks for it.
  if ('__end__' in graph.nodes) rank.set('__end__', Math.max(0, ...ids.filter((id) => id !== '__end__').map((id) => rank.get(id) ?? 0)) + 1)

  const rows: string[][] = Array.from({ length: Math.max(0, ...rank.values()) + 1 }, () => [])
  for (const id of ids) rows[rank.get(id) ?? 0]?.push(id)
  // One pass of barycentre ordering: a node sits under the average position of its parents, which untangles most edges.
  for (let r = 1; r < rows.length; r++) {
    const above = rows[r - 1] ?? []
    const key = new Map<string, number>()
    for (const [i, id] of (rows[r] ?? []).entries()) {
      const parents = graph.edges.filter((e) => e.target === id && !back.has(e)).map((e) => above.indexOf(e.source)).filter((p) => p >= 0)
      key.set(id, parents.length ? parents.reduce((a, b) => a + b, 0) / parents.length : i)
    }
    rows[r]?.sort((a, b) => (key.get(a) ?? 0) - (key.get(b) ?? 0))
  }

  const widthOf = (id: string) => Math.max(56, (graph.nodes[id]?.name.length ?? 0) * 7 + 24)
  const rowWidth = (row: string[]) => row.reduce((sum, id) => sum + widthOf(id), 0) + GAP_X * (row.length - 1)
  const inner = Math.max(0, ...rows.map(rowWidth))
  const boxes = new Map<string, Box>()
  rows.forEach((row, r) => {
    let x = PAD + (inner - rowWidth(row)) / 2
    for (const id of row) {
      const w = widthOf(id)
      boxes.set(id, { id, name: graph.nodes[id]?.name ?? id, rank: r, x: x + w / 2, y: PAD + r * (H + GAP_Y) + H / 2, w })
      x += w + GAP_X
    }
  })
  const loops = graph.edges.some((e) => back.has(e) || (boxes.get(e.target)?.rank ?? 0) <= (boxes.get(e.source)?.rank ?? 0))
  return { boxes, width: inner + 2 * PAD + (loops ? LOOP + 24 : 0), height: rows.length * (H + GAP_Y) - GAP_Y + 2 * PAD }
}

/** The SVG of `graph`, scaling to its container through its viewBox; `running` nodes get the class `running`. */
export function drawGraph(graph: DrawableGraph): SVGElement {
  const { boxes, width, height } = layout(graph)
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img' })
  let bulge = 0
  for (const e of graph.edges) {
    const a = boxes.get(e.source)
    const b = boxes.get(e.target)
    if (!a || !b) continue
    // Cubic curve: start, two control points, end. Downward edges leave the bottom and enter the top;
    // everything else (loops, edges back up or sideways) goes out and back in on the right.
    let p: number[]
    if (a === b) {
      const x = a.x + a.w / 2
      p = [x, a.y - 7, x + LOOP, a.y - 20, x + LOOP, a.y + 20, x, a.y + 7]
    } else if (b.rank > a.rank) {
      const y1 = a.y + H / 2
      const y2 = b.y - H / 2
      p = [a.x, y1, a.x, (y1 + y2) / 2, b.x, (y1 + y2) / 2, b.x, y2]
    } else {
      const x1 = a.x + a.w / 2
      const x2 = b.x + b.w / 2
      const bx = Math.max(x1, x2) + LOOP + (bulge++ % 3) * 8
      p = [x1, a.y, bx, a.y, bx, b.y, x2, b.y]
    }
    const [x0 = 0, y0 = 0, cx1 = 0, cy1 = 0, cx2 = 0, cy2 = 0, x3 = 0, y3 = 0] = p
    svg.append(s('path', { class: e.conditional ? 'edge cond' : 'edge', d: `M${x0} ${y0}C${cx1} ${cy1} ${cx2} ${cy2} ${x3} ${y3}` }))
    // The arrowhead points along the curve's last tangent (from the second control point to the end).
    const len = Math.hypot(x3 - cx2, y3 - cy2) || 1
    const dx = (x3 - cx2) / len
    const dy = (y3 - cy2) / len
    const bx = x3 - 8 * dx
    const by = y3 - 8 * dy
    svg.append(s('path', { class: 'arrow', d: `M${x3} ${y3}L${bx - 4 * dy} ${by + 4 * dx}L${bx + 4 * dy} ${by - 4 * dx}Z` }))
    if (e.data !== undefined) {
      // The curve's midpoint (t = 0.5).
      const mx = (x0 + 3 * cx1 + 3 * cx2 + x3) / 8
      const my = (y0 + 3 * cy1 + 3 * cy2 + y3) / 8
      svg.append(s('text', { class: 'label', x: mx, y: my }, e.data))
    }
  }
  for (const box of boxes.values()) {
    const terminal = box.id === '__start__' || box.id === '__end__'
    svg.append(
      s(
        'g',
        { class: 'node', 'data-node': box.id },
        s('rect', { x: box.x - box.w / 2, y: box.y - H / 2, width: box.w, height: H, rx: terminal ? H / 2 : 6 }),
        s('text', { x: box.x, y: box.y }, box.name),
      ),
    )
  }
  return svg
}

/** Marks the nodes in `running` (by name) and says so in the drawing's accessible name. */
export function markRunning(svg: SVGElement, graph: DrawableGraph, running: readonly string[]): void {
  for (const g of svg.querySelectorAll('.node')) {
    const name = graph.nodes[g.getAttribute('data-node') ?? '']?.name ?? ''
    g.classList.toggle('running', running.includes(name))
  }
  const count = Object.keys(graph.nodes).length
  svg.setAttribute('aria-label', `Graph of ${count} nodes${running.length ? `; running: ${running.join(', ')}` : ''}`)
}
