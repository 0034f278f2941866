/**
 * edgegraph/draw: each graph is built in both engines, and `getGraph(graph)` must give LangGraph.js 1.7.3's
 * `graph.getGraph()`: the same nodes and edges (style and label), and the same Mermaid text, byte for byte.
 */
import { Annotation, StateGraph as LangGraphStateGraph } from '@langchain/langgraph'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { getGraph } from '../src/draw/index.js'
import { END, START, StateGraph, isEdgegraphError, type ChannelSpec, type CompiledGraph } from '../src/index.js'

interface NodeOptions {
  ends?: string[]
  defer?: boolean
  /** The node is this graph, compiled. */
  sub?: Shape
}

/** A graph described once, built for both engines. */
interface Shape {
  nodes: [name: string, options?: NodeOptions][]
  /** Plain edges, and waiting edges when `from` is a list. */
  edges?: [from: string | string[], to: string][]
  /** Conditional edges, with their path map (an object or a list of targets) when they have one. */
  branches?: [from: string, pathMap?: Record<string, string> | string[] | null][]
}

type Definition = { count: ChannelSpec<number> }
type Builder = StateGraph<Definition, string>
/** The part of LangGraph's builder these tests use (its own types track node names, which a Shape cannot give). */
interface LangGraphBuilder {
  addNode(name: string, node: unknown, options?: object): LangGraphBuilder
  addEdge(from: string | string[], to: string): LangGraphBuilder
  addConditionalEdges(from: string, path: () => string, pathMap?: unknown): LangGraphBuilder
  compile(): LangGraphCompiled
}
interface LangGraphDrawing {
  nodes: Record<string, { id: string; name: string }>
  toJSON(): { nodes: { id: string | number }[]; edges: object[] }
  drawMermaid(options?: object): string
}
interface LangGraphCompiled {
  getGraph(options?: { xray?: boolean | number }): LangGraphDrawing
}

const noop = () => ({})
const route = () => END

function edgegraph(shape: Shape): CompiledGraph<Definition, string> {
  let g = new StateGraph({ count: { default: () => 0 } }) as unknown as Builder
  for (const [name, o = {}] of shape.nodes) {
    const options = { ...(o.ends && { ends: o.ends }), ...(o.defer && { defer: true }) }
    g = g.addNode(name, o.sub ? (edgegraph(o.sub) as never) : noop, options)
  }
  for (const [from, to] of shape.edges ?? []) g = g.addEdge(from, to)
  for (const [from, map] of shape.branches ?? []) g = map ? g.addConditionalEdges(from, route, map) : g.addConditionalEdges(from, route)
  return g.compile()
}

const State = Annotation.Root({ count: Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }) })

function langgraph(shape: Shape): LangGraphCompiled {
  let g = new LangGraphStateGraph(State) as unknown as LangGraphBuilder
  for (const [name, o = {}] of shape.nodes) g = g.addNode(name, o.sub ? langgraph(o.sub) : noop, { ends: o.ends, defer: o.defer })
  for (const [from, to] of shape.edges ?? []) g = g.addEdge(from, to)
  for (const [from, map] of shape.branches ?? []) g = map ? g.addConditionalEdges(from, route, map) : g.addConditionalEdges(from, route)
  return g.compile()
}

/** Both engines' drawings of `shape`: nodes (id, label), edges, and the Mermaid text with and without styles. */
function drawings(shape: Shape, xray?: boolean | number) {
  const ours = getGraph(edgegraph(shape), xray === undefined ? {} : { xray })
  const theirs = langgraph(shape).getGraph(xray === undefined ? {} : { xray })
  const json = theirs.toJSON()
  return {
    ours: { ...ours.toJSON(), mermaid: ours.drawMermaid(), plain: ours.drawMermaid({ withStyles: false }) },
    theirs: {
      nodes: json.nodes.map((n) => ({ id: n.id, name: theirs.nodes[n.id]?.name })),
      edges: json.edges,
      mermaid: theirs.drawMermaid(),
      plain: theirs.drawMermaid({ withStyles: false }),
    },
  }
}

function expectLangGraphDrawing(shape: Shape, xray?: boolean | number): void {
  const { ours, theirs } = drawings(shape, xray)
  expect(ours).toEqual(theirs)
}

const STYLES = '\tclassDef default fill:#f2f0ff,line-height:1.2;\n\tclassDef first fill-opacity:0;\n\tclassDef last fill:#bfb6fc;\n'

describe('getGraph(graph).drawMermaid() draws what LangGraph.js draws', () => {
  it('the counter: START solid, a conditional edge without a path map dashed to every other node and END', () => {
    const counter: Shape = { nodes: [['increment']], edges: [[START, 'increment']], branches: [['increment']] }
    expect(getGraph(edgegraph(counter)).drawMermaid()).toBe(
      "%%{init: {'flowchart': {'curve': 'linear'}}}%%\ngraph TD;\n" +
        '\t__start__([<p>__start__</p>]):::first\n\tincrement(increment)\n\t__end__([<p>__end__</p>]):::last\n' +
        '\t__start__ --> increment;\n\tincrement -.-> __end__;\n' +
        STYLES,
    )
    expectLangGraphDrawing(counter)
    expectLangGraphDrawing({ nodes: [['a'], ['b'], ['c']], edges: [[START, 'a'], ['b', END], ['c', END]], branches: [['a']] })
  })

  it('path maps: dashed edges labelled with the key where it is not the target, lists unlabelled', () => {
    const shape: Shape = {
      nodes: [['agent'], ['tools'], ['review']],
      edges: [[START, 'agent'], ['tools', 'agent']],
      branches: [['agent', { tools: 'tools', 'needs a human': 'review', done: END }], ['review', ['agent', END]]],
    }
    const mermaid = getGraph(edgegraph(shape)).drawMermaid({ withStyles: false })
    expect(mermaid).toContain('\tagent -.-> tools;\n')
    expect(mermaid).toContain('\tagent -. &nbsp;needs a human&nbsp; .-> review;\n')
    expect(mermaid).toContain('\tagent -. &nbsp;done&nbsp; .-> __end__;\n')
    expect(mermaid).toContain('\treview -.-> __end__;\n')
    expectLangGraphDrawing(shape)
  })

  it('a conditional edge from START, and one from a node with plain edges too', () => {
    expectLangGraphDrawing({ nodes: [['a'], ['b']], edges: [['a', 'b'], ['b', END]], branches: [[START, { first: 'a', second: 'b' }], ['a', ['b', END]]] })
  })

  it('ends (Command.goto): dashed, unlabelled edges to each', () => {
    const shape: Shape = { nodes: [['a', { ends: ['b', END] }], ['b', { ends: ['a'] }]], edges: [[START, 'a']] }
    const json = getGraph(edgegraph(shape)).toJSON()
    expect(json.edges).toEqual([
      { source: START, target: 'a', conditional: false },
      { source: 'a', target: 'b', conditional: true },
      { source: 'a', target: END, conditional: true },
      { source: 'b', target: 'a', conditional: true },
    ])
    expectLangGraphDrawing(shape)
  })

  it('waiting edges as an edge from each source, defer nodes as plain nodes, edges ordered by source', () => {
    const shape: Shape = {
      nodes: [['fetch'], ['search'], ['merge', { defer: true }], ['write']],
      edges: [['merge', 'write'], [START, 'search'], [START, 'fetch'], [['search', 'fetch'], 'merge'], ['write', END]],
    }
    const plain = getGraph(edgegraph(shape)).drawMermaid({ withStyles: false })
    expect(plain).toBe(
      'graph TD;\n\t__start__ --> search;\n\t__start__ --> fetch;\n\tfetch --> merge;\n\tmerge --> write;\n\tsearch --> merge;\n\twrite --> __end__;\n',
    )
    expectLangGraphDrawing(shape)
  })

  it('a node a plain edge reaches and nothing leaves gets a solid edge to END; self-loops are drawn after the rest', () => {
    expectLangGraphDrawing({ nodes: [['a'], ['b'], ['c']], edges: [[START, 'a'], ['a', 'b'], ['a', 'a']], branches: [['a', { x: 'c' }]] })
  })

  it('names Mermaid cannot take as ids: "subgraph", spaces, punctuation, Markdown-looking names, integer-like names', () => {
    const names = ['subgraph', 'my node', 'c.d', '*em*', '_private_', 'é', '7', 'x']
    const shape: Shape = {
      nodes: names.map((n, i) => [n, i === 7 ? { ends: [END] } : i === 6 ? { ends: ['x'] } : {}]),
      edges: [[START, 'subgraph'], ...names.slice(1, 6).map((n): [string, string] => ['subgraph', n])],
      branches: [['my node', { 'a long label of more than nine words, to wrap over lines': '7' }]],
    }
    const mermaid = getGraph(edgegraph(shape)).drawMermaid()
    expect(mermaid).toContain('\t_subgraph_("subgraph")\n')
    expect(mermaid).toContain('\tmy_node -. &nbsp;a long label of more than nine words, to&nbsp;<br>&nbsp;wrap over lines&nbsp; .-> 7;\n')
    expectLangGraphDrawing(shape)
  })

  it('drawMermaid options as LangGraph: curveStyle, nodeColors, wrapLabelNWords; unknown ones are refused', () => {
    const shape: Shape = { nodes: [['a']], edges: [[START, 'a']], branches: [['a', { 'one two three': END }]] }
    const options = { curveStyle: 'basis', nodeColors: { first: 'fill:#fff' }, wrapLabelNWords: 2 }
    const ours = getGraph(edgegraph(shape)).drawMermaid(options)
    expect(ours).toBe(langgraph(shape).getGraph().drawMermaid(options))
    expect(ours).toContain("'curve': 'basis'")
    expect(ours).toContain('-. &nbsp;one two&nbsp;<br>&nbsp;three&nbsp; .->')
    expect(ours).toMatch(/classDef first fill:#fff;\n$/)
    expect(() => getGraph(edgegraph(shape)).drawMermaid({ backgroundColor: 'white' } as never)).toThrow(/option "backgroundColor" is not supported/)
    expect(() => getGraph(edgegraph(shape)).drawMermaid({ wrapLabelNWords: 0 })).toThrow(/wrapLabelNWords must be a whole number/)
  })
})

describe('subgraphs', () => {
  const research: Shape = { nodes: [['search'], ['summarize']], edges: [[START, 'search'], ['search', 'summarize'], ['summarize', END]] }
  const parent: Shape = {
    nodes: [['plan'], ['research', { sub: research }], ['answer']],
    edges: [[START, 'plan'], ['plan', 'research'], ['research', 'answer'], ['answer', END]],
  }

  it('are one node without xray', () => {
    expect(Object.keys(getGraph(edgegraph(parent)).nodes)).toEqual([START, 'plan', 'research', 'answer', END])
    expectLangGraphDrawing(parent)
    expectLangGraphDrawing(parent, false)
  })

  it('with xray, are drawn inside a subgraph block, their ids prefixed, their START and END dropped', () => {
    const drawing = getGraph(edgegraph(parent), { xray: true })
    expect(Object.keys(drawing.nodes)).toEqual([START, 'plan', 'research:search', 'research:summarize', 'answer', END])
    expect(drawing.drawMermaid({ withStyles: false })).toBe(
      'graph TD;\n\t__start__ --> plan;\n\tanswer --> __end__;\n\tplan --> research_search;\n\tresearch_summarize --> answer;\n' +
        '\tsubgraph research\n\tresearch_search --> research_summarize;\n\tend\n',
    )
    expectLangGraphDrawing(parent, true)
  })

  it('keep their START or END when it fans out or in; a one-node subgraph stays one node', () => {
    const fan: Shape = { nodes: [['x'], ['y']], edges: [[START, 'x'], [START, 'y'], ['x', END], ['y', END]] }
    const one: Shape = { nodes: [['only']], edges: [[START, 'only'], ['only', END]] }
    const shape: Shape = { nodes: [['one', { sub: one }], ['fan', { sub: fan }], ['z']], edges: [[START, 'one'], ['one', 'fan'], ['fan', 'z'], ['z', END]] }
    expect(Object.keys(getGraph(edgegraph(shape), { xray: true }).nodes)).toEqual([START, 'one', 'fan:__start__', 'fan:x', 'fan:y', 'fan:__end__', 'z', END])
    expectLangGraphDrawing(shape, true)
  })

  it('nest, and a number limits how deep xray goes', () => {
    const fan: Shape = { nodes: [['x'], ['y']], edges: [[START, 'x'], [START, 'y'], ['x', END], ['y', END]] }
    const middle: Shape = { nodes: [['w'], ['inner', { sub: fan }]], edges: [[START, 'w'], ['w', 'inner'], ['inner', END]] }
    const top: Shape = { nodes: [['outer', { sub: middle }], ['after']], edges: [[START, 'outer'], ['outer', 'after']] }
    expect(Object.keys(getGraph(edgegraph(top), { xray: 1 }).nodes)).toEqual([START, 'outer:w', 'outer:inner', 'after', END])
    expect(getGraph(edgegraph(top), { xray: true }).drawMermaid({ withStyles: false })).toContain('\tsubgraph outer\n\tsubgraph inner\n')
    for (const xray of [true, 0, 1, 2, 3]) expectLangGraphDrawing(top, xray)
  })

  it('with conditional edges and ends inside', () => {
    const loop: Shape = { nodes: [['think', { ends: ['act'] }], ['act']], edges: [[START, 'think']], branches: [['act', { again: 'think', stop: END }]] }
    const shape: Shape = { nodes: [['agent', { sub: loop }], ['report']], edges: [[START, 'agent'], ['agent', 'report']], branches: [['report', ['agent', END]]] }
    expectLangGraphDrawing(shape, true)
  })
})

describe('getGraph arguments', () => {
  it('takes a compiled graph, and refuses anything else or unknown options with INVALID_ARGUMENT', () => {
    const builder = new StateGraph({ count: { default: () => 0 } }).addNode('a', noop).addEdge(START, 'a')
    const refused = (fn: () => unknown) => {
      try {
        fn()
      } catch (err) {
        return isEdgegraphError(err, 'INVALID_ARGUMENT') ? err.message : `other error: ${String(err)}`
      }
      return 'not refused'
    }
    expect(refused(() => getGraph(builder as never))).toMatch(/takes a compiled graph: call \.compile\(\)/)
    expect(refused(() => getGraph(builder.compile(), { xray: 'yes' } as never))).toMatch(/xray must be true, false or a whole number/)
    expect(refused(() => getGraph(builder.compile(), { withStyles: true } as never))).toMatch(/option "withStyles" is not supported/)
  })
})

// Random graphs both engines accept, in random names (Mermaid keywords, spaces, integer-like), with subgraphs.
const NAMES = ['a', 'b', 'subgraph', 'my node', '*em*', 'c-d', '1', 'tool_call']

function shapes(depth: number): fc.Arbitrary<Shape> {
  return fc.shuffledSubarray(NAMES, { minLength: 1, maxLength: 5 }).chain((names) => {
    const n = names.length
    const node = fc.constantFrom(...names)
    const target = fc.constantFrom(...names, END)
    const pathMap = fc.oneof(
      fc.dictionary(fc.constantFrom('yes', 'no', 'go on', ...names), target, { minKeys: 1, maxKeys: 3 }),
      fc.uniqueArray(target, { minLength: 1, maxLength: 3 }),
    )
    return fc
      .record({
        // Every node is reached from START or an earlier node, so both engines find it reachable.
        parents: fc.tuple(...names.map((_, i) => fc.integer({ min: -1, max: i - 1 }))),
        extra: fc.array(fc.tuple(node, target), { maxLength: 4 }),
        joins: n < 2 ? fc.constant([]) : fc.uniqueArray(fc.tuple(fc.uniqueArray(node, { minLength: 2, maxLength: 3 }), node), { maxLength: 2, selector: (j) => `${j[0]}>${j[1]}` }),
        branches: fc.uniqueArray(fc.tuple(fc.constantFrom(START, ...names), fc.option(pathMap)), { maxLength: 3, selector: (b) => b[0] }),
        options: fc.array(
          fc.record({ ends: fc.option(fc.uniqueArray(target, { minLength: 1, maxLength: 3 }), { freq: 3 }), defer: fc.boolean(), sub: depth > 0 ? fc.option(shapes(depth - 1), { freq: 2 }) : fc.constant(null) }),
          { minLength: n, maxLength: n },
        ),
        lastToEnd: fc.boolean(),
      })
      .map(({ parents, extra, joins, branches, options, lastToEnd }): Shape => ({
        nodes: names.map((name, i) => {
          const o = options[i]
          return [name, { ...(o?.ends && { ends: o.ends }), ...(o?.defer && { defer: true }), ...(o?.sub && { sub: o.sub }) }]
        }),
        edges: [
          ...names.map((name, i): [string, string] => [parents[i] === -1 ? START : (names[parents[i] as number] as string), name]),
          ...extra,
          ...joins,
          ...(lastToEnd ? [[names[n - 1] as string, END] as [string, string]] : []),
        ],
        branches,
      }))
  })
}

/** True when both engines compile the graph (their checks differ at the edges: END unreachable, START → END...). */
function bothCompile(shape: Shape): boolean {
  try {
    edgegraph(shape)
    langgraph(shape)
    return true
  } catch {
    return false
  }
}

describe('random graphs', () => {
  it('draw as in LangGraph.js, with and without xray', () => {
    let compared = 0
    fc.assert(
      fc.property(shapes(2), fc.constantFrom<boolean | number>(false, true, 1, 2), (shape, xray) => {
        fc.pre(bothCompile(shape))
        compared++
        const { ours, theirs } = drawings(shape, xray)
        expect(ours).toEqual(theirs)
      }),
      { numRuns: 300 },
    )
    // Most random graphs must be compared, not skipped as ones an engine refuses.
    expect(compared).toBeGreaterThan(200)
  }, 60_000)
})
