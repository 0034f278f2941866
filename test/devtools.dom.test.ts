/** The `<edgegraph-devtools>` element on happy-dom: a real graph and thread, read back through the panel. */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { END, START, StateGraph } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { getGraph } from '../src/draw/index.js'
import { defineDevtools, EdgegraphDevtools, type DevtoolsActionDetail } from '../src/devtools/index.js'
import { appendList, collect } from './helpers.js'

defineDevtools()

/** plan → write, then back to plan or END (a conditional edge); it stops before `write` for a human. */
function drafting() {
  return new StateGraph({ log: appendList, draft: { default: () => '' } })
    .addNode('plan', () => ({ log: ['planned'], draft: 'a' }))
    .addNode('write', (s) => ({ log: ['written'], draft: `${s.draft}b` }))
    .addEdge(START, 'plan')
    .addEdge('plan', 'write')
    .addConditionalEdges('write', (s) => (s.log.length > 9 ? 'plan' : END), ['plan', END])
    .compile({ checkpointer: createMemoryAdapter(), interruptBefore: ['write'] })
}
type Graph = ReturnType<typeof drafting>

/** A thread that ran plan, stopped before write, went on, then was forked at the plan checkpoint. */
async function forkedThread(g: Graph = drafting()) {
  await g.invoke({ log: ['start'] }, { threadId: 't' })
  await g.invoke(null, { threadId: 't' })
  const [write, plan, input] = await collect(g.getStateHistory({ threadId: 't' }))
  const fork = await g.updateState({ threadId: 't', checkpointId: plan!.config.checkpointId }, { draft: 'forked' })
  return { g, ids: { input: input!.config.checkpointId, plan: plan!.config.checkpointId, write: write!.config.checkpointId, fork: fork.checkpointId } }
}

async function mount(g?: Graph, threadId?: string) {
  const el = document.createElement('edgegraph-devtools')
  const events: { type: string; detail: unknown }[] = []
  for (const type of ['edgegraph-devtools:select', 'edgegraph-devtools:action']) {
    document.addEventListener(type, (e) => events.push({ type, detail: (e as CustomEvent).detail }))
  }
  document.body.append(el)
  if (g) el.graph = g
  if (threadId) el.threadId = threadId
  await el.refresh()
  const root = el.shadowRoot!
  const rows = () => [...root.querySelectorAll<HTMLElement>('[role=option]')]
  // Each gutter cell lists its strokes (u, d, l, r from the centre; o a checkpoint, h the head): read back as box drawing.
  const glyphs: Record<string, string> = { du: '│', lu: '╯', ru: '╰', lr: '─', lru: '┴', dlru: '┼', '': ' ' }
  const glyph = (cell: string) => (cell.includes('h') ? '◉' : cell.includes('o') ? '●' : (glyphs[[...cell].sort().join('')] ?? '?'))
  const cells = () => rows().map((r) => [...r.querySelectorAll<HTMLElement>('.lanes > span')].map((s) => s.dataset.cell ?? ''))
  const lanes = () => cells().map((row) => row.map(glyph).join(''))
  const row = (id: string) => rows().find((r) => r.dataset.id === id)!
  const text = (selector: string) => root.querySelector(selector)?.textContent ?? ''
  const select = (name: 'From' | 'To') => [...root.querySelectorAll('label')].find((l) => l.textContent?.startsWith(name))!.querySelector('select')!
  const patch = () => [...root.querySelectorAll('.patch li')].map((li) => li.textContent)
  const button = (name: string) => [...root.querySelectorAll('button')].find((b) => b.textContent === name)!
  return { el, root, events, rows, row, cells, lanes, text, select, patch, button }
}

afterEach(() => {
  document.body.replaceChildren()
})

describe('<edgegraph-devtools>', () => {
  it('asks for a graph and a thread until it has both, and says when a thread has no checkpoints', async () => {
    const { el, text, rows } = await mount()
    expect(text('header')).toContain('Set graph (a compiled graph with a checkpointer) and threadId')
    el.graph = drafting()
    el.threadId = 'nobody'
    await el.refresh()
    expect(text('header')).toContain('Thread "nobody" has no checkpoints yet')
    expect(rows()).toHaveLength(0)
    // The graph is drawn even so.
    expect(el.shadowRoot!.querySelectorAll('svg .node')).toHaveLength(4)
  })

  it('draws every node of the graph, conditional edges dashed, the running nodes highlighted, and the Mermaid text', async () => {
    const g = drafting()
    await g.invoke({ log: ['start'] }, { threadId: 't' }) // stops before write: write is next
    const { el, root } = await mount(g, 't')
    const nodes = [...root.querySelectorAll('svg .node')]
    expect(nodes.map((n) => n.getAttribute('data-node'))).toEqual(['__start__', 'plan', 'write', '__end__'])
    expect(nodes.map((n) => n.querySelector('text')?.textContent)).toEqual(['__start__', 'plan', 'write', '__end__'])
    expect(root.querySelectorAll('svg path.edge')).toHaveLength(4)
    expect(root.querySelectorAll('svg path.edge.cond')).toHaveLength(2) // write → plan, write → END
    expect(root.querySelectorAll('svg path.arrow')).toHaveLength(4)
    const svg = root.querySelector('svg')!
    expect(svg.getAttribute('viewBox')).toMatch(/^0 0 \d+(\.\d+)? \d+(\.\d+)?$/)
    // Ranked top-down: start above plan above write above end.
    const y = (id: string) => Number(root.querySelector(`[data-node="${id}"] rect`)!.getAttribute('y'))
    expect(y('__start__')).toBeLessThan(y('plan'))
    expect(y('plan')).toBeLessThan(y('write'))
    expect(y('write')).toBeLessThan(y('__end__'))

    const running = () => [...root.querySelectorAll('svg .node.running')].map((n) => n.getAttribute('data-node'))
    expect(running()).toEqual(['write'])
    expect(svg.getAttribute('aria-label')).toBe('Graph of 4 nodes; running: write')
    el.running = ['plan']
    expect(running()).toEqual(['plan'])
    el.running = undefined
    expect(running()).toEqual(['write'])

    expect(root.querySelector('details pre')?.textContent).toBe(getGraph(g).drawMermaid())
  })

  it('lists every checkpoint newest first, in lanes that show the fork, with source, writers, interrupts and the head', async () => {
    const { g, ids } = await forkedThread()
    const { rows, row, lanes, cells } = await mount(g, 't')
    expect(rows().map((r) => r.dataset.id)).toEqual([ids.fork, ids.write, ids.plan, ids.input])
    expect(lanes()).toEqual(['◉ ', '│●', '●╯', '● '])
    // Dots connect up and down their lane; the plan checkpoint reaches right to the branch that leaves it.
    expect(cells()).toEqual([['hd', ''], ['ud', 'od'], ['oudr', 'ul'], ['ou', '']])
    expect(rows()[2]!.querySelectorAll('.lanes i')).toHaveLength(6)
    expect(row(ids.fork).textContent).toContain('step 2fork')
    expect(row(ids.fork).querySelector('.head')?.textContent).toBe('head')
    expect(rows().filter((r) => r.querySelector('.head'))).toHaveLength(1)
    expect(row(ids.write).textContent).toContain('write → log, draft')
    expect(row(ids.write).textContent).toContain('branched from step 1')
    expect(row(ids.plan).textContent).toContain('plan → log, draft')
    expect(row(ids.plan).querySelector('.warn')?.textContent).toBe('1 interrupt waiting')
    expect(row(ids.input).querySelector('.tag')?.textContent).toBe('input')
    // The head is selected to begin with, and is the only row in the tab order.
    expect(rows().map((r) => r.getAttribute('aria-selected'))).toEqual(['true', 'false', 'false', 'false'])
    expect(rows().map((r) => r.tabIndex)).toEqual([0, -1, -1, -1])
  })

  it('shows usage and cost a node reported', async () => {
    const g = new StateGraph({ answer: { default: () => '' } })
      .addNode('llm', (_s, ctx) => {
        ctx.reportUsage({ inputTokens: 1000, outputTokens: 234, costUsd: 0.0123 })
        return { answer: 'hi' }
      })
      .addEdge(START, 'llm')
      .compile({ checkpointer: createMemoryAdapter() })
    await g.invoke({}, { threadId: 'u' })
    const { rows } = await mount(g as unknown as Graph, 'u')
    expect(rows()[0]!.textContent).toContain('1,234 tokens · $0.0123')
  })

  it('selects a checkpoint by click or keyboard, shows its state, and tells the page', async () => {
    const { g, ids } = await forkedThread()
    const { el, root, events, rows, row, text } = await mount(g, 't')
    expect(events.filter((e) => e.type === 'edgegraph-devtools:select').at(-1)?.detail).toEqual({ checkpointId: ids.fork })
    expect(text('[aria-labelledby=eg-state] dl')).toContain('nextwrite')
    expect(text('[aria-labelledby=eg-state]')).toContain('"forked"')

    row(ids.plan).click()
    await vi.waitFor(() => expect(text('[aria-labelledby=eg-state]')).toContain('"planned"'))
    expect(el.selected).toBe(ids.plan)
    expect(row(ids.plan).getAttribute('aria-selected')).toBe('true')
    expect(row(ids.fork).getAttribute('aria-selected')).toBe('false')
    expect(events.at(-1)).toEqual({ type: 'edgegraph-devtools:select', detail: { checkpointId: ids.plan } })
    const state = text('[aria-labelledby=eg-state] dl')
    expect(state).toContain('nextwrite')
    expect(state).toContain('write (before)')
    const values = [...root.querySelectorAll('[aria-labelledby=eg-state] details[open] summary')].map((s) => s.textContent)
    expect(values).toEqual(['log', 'draft'])
    expect(text('[aria-labelledby=eg-state] details[open] pre')).toBe('[\n  "start",\n  "planned"\n]')

    // Arrow down moves focus without selecting; Enter selects.
    row(ids.plan).focus()
    row(ids.plan).dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown', bubbles: true }))
    expect(root.activeElement).toBe(row(ids.input))
    expect(el.selected).toBe(ids.plan)
    row(ids.input).dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }))
    await vi.waitFor(() => expect(el.selected).toBe(ids.input))
    await vi.waitFor(() => expect(text('[aria-labelledby=eg-state] dl')).toContain('nextplan'))
    expect(rows().map((r) => r.tabIndex)).toEqual([-1, -1, -1, 0])
  })

  it('diffs the selection against its parent, or any two checkpoints picked, one line per operation', async () => {
    const { g, ids } = await forkedThread()
    const { el, row, select, patch } = await mount(g, 't')
    // The head (the fork) against its parent, the plan checkpoint.
    expect(select('From').value).toBe(ids.plan)
    expect(select('To').value).toBe(ids.fork)
    expect(patch()).toEqual(['~ /draft  "a" → "forked"'])

    row(ids.write).click()
    await vi.waitFor(() => expect(patch()).toEqual(['+ /log/2  "written"', '~ /draft  "a" → "ab"']))

    select('From').value = ids.input
    select('From').dispatchEvent(new Event('change'))
    await vi.waitFor(() => expect(patch()).toEqual(['+ /log/1  "planned"', '+ /log/2  "written"', '~ /draft  "" → "ab"']))
    expect(await g.diff({ threadId: 't', checkpointId: ids.input }, { threadId: 't', checkpointId: ids.write })).toHaveLength(3)
    // A refresh (the store saw the thread move) keeps the pair picked.
    await el.refresh()
    expect([select('From').value, select('To').value]).toEqual([ids.input, ids.write])
    expect(patch()).toHaveLength(3)

    select('From').value = ids.write
    select('From').dispatchEvent(new Event('change'))
    await vi.waitFor(() => expect(patch()).toEqual(['The same checkpoint: pick another to compare.']))
  })

  it('replays from the selected checkpoint, refreshes onto the new head, and dispatches the action', async () => {
    const { g, ids } = await forkedThread()
    const invoke = vi.spyOn(g, 'invoke')
    const { el, events, rows, row, button, lanes } = await mount(g, 't')
    row(ids.plan).click()
    await vi.waitFor(() => expect(el.selected).toBe(ids.plan))

    button('Replay from here').click()
    await vi.waitFor(() => expect(events.some((e) => e.type === 'edgegraph-devtools:action')).toBe(true))
    expect(invoke).toHaveBeenCalledWith(null, { threadId: 't', checkpointId: ids.plan })
    const action = events.find((e) => e.type === 'edgegraph-devtools:action')!.detail as DevtoolsActionDetail
    expect(action).toEqual({ action: 'replay', checkpointId: ids.plan, result: { log: ['start', 'planned', 'written'], draft: 'ab' } })
    expect(rows()).toHaveLength(5)
    const head = (await g.getState({ threadId: 't' })).config.checkpointId
    expect(el.selected).toBe(head)
    expect(rows()[0]!.dataset.id).toBe(head)
    // The replay is a third branch off the plan checkpoint, and the head's: it takes the first lane.
    expect(lanes()).toEqual(['◉  ', '│● ', '││●', '●┴╯', '●  '])
    expect(rows()[0]!.textContent).toContain('write → log, draft')
    expect(rows()[1]!.textContent).toContain('branched from step 1')
  })

  it('forks from the selected checkpoint with the JSON values given, and refuses values that are not a JSON object', async () => {
    const { g, ids } = await forkedThread()
    const updateState = vi.spyOn(g, 'updateState')
    const { el, root, events, rows, row, text, button } = await mount(g, 't')
    row(ids.write).click()
    await vi.waitFor(() => expect(el.selected).toBe(ids.write))
    const textarea = root.querySelector('textarea')!
    expect(textarea.closest('label')?.textContent).toContain('Values to write (JSON object')

    textarea.value = '{"draft": oops}'
    button('Write fork').click()
    await vi.waitFor(() => expect(text('[role=alert]')).toContain('The fork values are not valid JSON'))
    textarea.value = '["draft"]'
    button('Write fork').click()
    await vi.waitFor(() => expect(text('[role=alert]')).toContain('must be a JSON object'))
    expect(updateState).not.toHaveBeenCalled()

    textarea.value = '{"draft": "<img src=x onerror=alert(1)>"}'
    button('Write fork').click()
    await vi.waitFor(() => expect(events.some((e) => e.type === 'edgegraph-devtools:action')).toBe(true))
    expect(updateState).toHaveBeenCalledWith({ threadId: 't', checkpointId: ids.write }, { draft: '<img src=x onerror=alert(1)>' })
    const action = events.find((e) => e.type === 'edgegraph-devtools:action')!.detail as DevtoolsActionDetail
    const made = (action.result as { checkpointId: string }).checkpointId
    expect(action).toEqual({ action: 'fork', checkpointId: ids.write, result: { threadId: 't', checkpointId: made } })
    expect(rows()).toHaveLength(5)
    expect(el.selected).toBe(made)
    expect(text('[aria-labelledby=eg-state]')).toContain('"<img src=x onerror=alert(1)>"')
    // Data is text, never markup.
    expect(root.querySelector('img')).toBeNull()
    expect(text('[role=alert]')).toMatch(/^Forked from …/)
  })

  it('shows failures inline and in the action event, never as an uncaught error', async () => {
    const { g, ids } = await forkedThread()
    vi.spyOn(g, 'invoke').mockRejectedValue(new Error('the model is down'))
    const { el, events, text, button } = await mount(g, 't')
    button('Replay from here').click()
    await vi.waitFor(() => expect(text('[role=alert]')).toBe('Replay failed: the model is down'))
    await vi.waitFor(() => expect(events.some((e) => e.type === 'edgegraph-devtools:action')).toBe(true))
    const action = events.find((e) => e.type === 'edgegraph-devtools:action')!.detail as DevtoolsActionDetail
    expect(action.action).toBe('replay')
    expect(action.checkpointId).toBe(ids.fork)
    expect(action.error?.message).toBe('the model is down')
    expect(action).not.toHaveProperty('result')

    vi.spyOn(g, 'getState').mockRejectedValue(new Error('storage is gone'))
    await el.refresh()
    expect(text('header')).toContain('Could not read thread "t": storage is gone')
    expect(el.shadowRoot!.querySelectorAll('[role=option]')).toHaveLength(0)
  })

  it('refreshes when the store says the thread moved, and stops listening once removed', async () => {
    const { g } = await forkedThread()
    const listeners = new Set<(e: { thread: string }) => void>()
    const store = { subscribe: (l: (e: { thread: string }) => void) => (listeners.add(l), () => listeners.delete(l)) }
    const { el, rows } = await mount(g, 't')
    el.store = store
    expect(listeners.size).toBe(1)
    await g.invoke(null, { threadId: 't' }) // the fork continues: plan runs, stops before write
    for (const l of listeners) l({ thread: 'other' })
    await new Promise((r) => setTimeout(r, 10))
    expect(rows()).toHaveLength(4)
    for (const l of listeners) l({ thread: 't' })
    await vi.waitFor(() => expect(rows()).toHaveLength(5))
    el.remove()
    expect(listeners.size).toBe(0)
  })

  it('registers once per tag name, and refuses a tag another element holds', () => {
    expect(defineDevtools()).toBe(customElements.get('edgegraph-devtools'))
    const Other = defineDevtools('my-graph-devtools')
    expect(new Other()).toBeInstanceOf(EdgegraphDevtools)
    expect(document.createElement('my-graph-devtools')).toBeInstanceOf(EdgegraphDevtools)
    customElements.define('not-devtools', class extends HTMLElement {})
    expect(() => defineDevtools('not-devtools')).toThrow(/<not-devtools> is already defined by another element/)
  })
})
