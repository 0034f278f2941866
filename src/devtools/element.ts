/**
 * @module The `<edgegraph-devtools>` element: a thread's graph, timeline, state and diffs, with replay and fork, in
 * one shadow root. Its skeleton is built once; a refresh or a selection rewrites only the parts that show data, so
 * keyboard focus stays where it was.
 */
import { getGraph, type DrawableGraph } from '../draw/index.js'
import type { StateDefinition } from '../graph/channels.js'
import type { CompiledGraph } from '../run/compiled.js'
import type { StateSnapshot, ThreadConfig } from '../run/snapshot.js'
import { patchLines } from './diff-view.js'
import { h } from './dom.js'
import { drawGraph, markRunning } from './graph-view.js'
import { stateView } from './state-view.js'
import { css } from './style.js'
import { label, lanes, timelineRow } from './timeline.js'

type Graph = CompiledGraph<StateDefinition, string>
type Snapshot = StateSnapshot<Record<string, unknown>>

/** What `store` takes: a storage adapter. One that can `subscribe` (IndexedDB, Dexie) keeps the panel current. */
export interface DevtoolsStore {
  subscribe?(listener: (event: { thread: string }) => void): () => void
}

/** `detail` of the `edgegraph-devtools:action` event, sent after a replay or a fork, done or failed. */
export interface DevtoolsActionDetail {
  action: 'replay' | 'fork'
  /** The checkpoint the action started from. */
  checkpointId: string
  /** What `invoke` (replay: the state) or `updateState` (fork: the new checkpoint's config) returned. */
  result?: unknown
  /** Why it failed; the panel shows its message too. */
  error?: Error
}

/** `detail` of the `edgegraph-devtools:select` event, sent when the selected checkpoint changes. */
export interface DevtoolsSelectDetail {
  checkpointId: string
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err))
const short = (id: string) => `…${id.slice(-6)}`
const HINT = 'Set graph (a compiled graph with a checkpointer) and threadId on this element to inspect a thread.'

// Importing the module on a server (SSR) must not throw, even though the element can only be used in a browser.
const Base = (globalThis.HTMLElement ?? class {}) as typeof HTMLElement

/**
 * A panel to inspect and steer one thread of a compiled graph. Register it with `defineDevtools()`, then set its
 * properties; it refreshes when connected, when `graph` or `threadId` change, and when `store` reports the thread moved.
 *
 * Events (bubbling, composed): `edgegraph-devtools:select` ({@link DevtoolsSelectDetail}) and
 * `edgegraph-devtools:action` ({@link DevtoolsActionDetail}).
 *
 * @example
 * defineDevtools()
 * const el = document.querySelector('edgegraph-devtools')!
 * el.graph = graph
 * el.threadId = 'chat-1'
 * el.store = checkpointer            // optional: refresh when the thread moves, in this tab or another
 * await el.refresh()
 */
export class EdgegraphDevtools extends Base {
  #graph: Graph | undefined
  #threadId: string | undefined
  #store: DevtoolsStore | undefined
  #running: readonly string[] | undefined
  #unsubscribe: (() => void) | undefined

  #history: Snapshot[] = []
  #head: Snapshot | undefined
  #selected: string | undefined
  /** The checkpoint the next refresh selects: an id, or null for the new head (after a replay). */
  #pick: string | null | undefined
  #drawn: { graph: Graph; drawable: DrawableGraph; svg: SVGElement } | undefined
  #loading: Promise<void> | undefined
  #again = false
  #scheduled = false
  #stateSeq = 0
  #diffSeq = 0

  readonly #status = h('span', { class: 'muted', 'aria-live': 'polite' })
  readonly #picture = h('div')
  readonly #mermaid = h('pre')
  readonly #copied = h('span', { class: 'muted', 'aria-live': 'polite' })
  readonly #list = h('ol', { role: 'listbox', 'aria-label': 'Checkpoints, newest first' })
  readonly #title = h('span', { class: 'muted' })
  readonly #state = h('div')
  readonly #replay = h('button', { type: 'button' }, 'Replay from here')
  readonly #forkValues = h('textarea', { spellcheck: 'false' }, '{}')
  readonly #forkButton = h('button', { type: 'submit' }, 'Write fork')
  readonly #note = h('p', { role: 'alert' })
  readonly #from = h('select')
  readonly #to = h('select')
  readonly #patch = h('ol', { class: 'patch', 'aria-label': 'Changes' })

  constructor() {
    super()
    const section = (id: string, title: string, ...children: (Node | string)[]) =>
      h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...children)
    const fork = h(
      'form',
      { onsubmit: (e) => this.#submitFork(e) },
      h('label', {}, 'Values to write (JSON object, applied through reducers)', this.#forkValues),
      this.#forkButton,
    )
    this.#replay.addEventListener('click', () => void this.#act('replay', (graph, config) => graph.invoke(null, config)))
    this.#list.addEventListener('click', (e) => this.#onRow(e))
    this.#list.addEventListener('keydown', (e) => this.#onKey(e))
    this.#from.addEventListener('change', () => void this.#showDiff())
    this.#to.addEventListener('change', () => void this.#showDiff())
    this.attachShadow({ mode: 'open' }).append(
      h('style', {}, css),
      h('header', {}, h('strong', {}, 'edgegraph devtools'), h('button', { type: 'button', onclick: () => void this.refresh() }, 'Refresh'), this.#status),
      h(
        'div',
        { class: 'views' },
        section(
          'eg-graph',
          'Graph',
          this.#picture,
          h('details', {}, h('summary', {}, 'Mermaid text'), this.#mermaid, h('button', { type: 'button', 'aria-label': 'Copy the Mermaid text', onclick: () => void this.#copy() }, 'Copy'), this.#copied),
        ),
        section('eg-timeline', 'Timeline', this.#list),
        section('eg-state', 'State', this.#title, h('div', {}, this.#replay, h('details', {}, h('summary', {}, 'Fork here…'), fork), this.#note), this.#state),
        section('eg-diff', 'Diff', h('label', {}, 'From', this.#from), h('label', {}, 'To', this.#to), this.#patch),
      ),
    )
    this.#clear(HINT)
  }

  /** The compiled graph to show (it must have a checkpointer). */
  get graph(): Graph | undefined {
    return this.#graph
  }
  set graph(graph: Graph | undefined) {
    this.#graph = graph
    this.#draw()
    this.#schedule()
  }

  /** The thread to show. */
  get threadId(): string | undefined {
    return this.#threadId
  }
  set threadId(threadId: string | undefined) {
    this.#threadId = threadId
    this.#schedule()
  }

  /** Optional: the graph's storage adapter. If it can `subscribe`, the panel refreshes whenever the thread moves, in any tab. */
  get store(): DevtoolsStore | undefined {
    return this.#store
  }
  set store(store: DevtoolsStore | undefined) {
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    this.#store = store
    if (this.isConnected) this.#listen()
  }

  /** Nodes to highlight as running now (set it from stream events; `[]` for none); when undefined, the head's `next` nodes. */
  get running(): readonly string[] | undefined {
    return this.#running
  }
  set running(nodes: readonly string[] | undefined) {
    this.#running = nodes
    this.#mark()
  }

  /** The selected checkpoint's id. */
  get selected(): string | undefined {
    return this.#selected
  }

  connectedCallback(): void {
    this.#listen()
    this.#schedule()
  }

  disconnectedCallback(): void {
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
  }

  /**
   * Reads the thread again and redraws. Resolves once every view shows the thread as it was when called; never
   * rejects (a failure is shown in the panel). Calls while one runs share it, then read once more.
   */
  refresh(): Promise<void> {
    this.#scheduled = false
    if (this.#loading) {
      this.#again = true
      return this.#loading
    }
    this.#loading = (async () => {
      do {
        this.#again = false
        try {
          await this.#load()
        } catch (err) {
          this.#say(`Something went wrong showing this thread: ${message(err)}`, true)
        }
      } while (this.#again)
    })().finally(() => (this.#loading = undefined))
    return this.#loading
  }

  /** One refresh after the current task, for property changes made together (`graph`, then `threadId`). */
  #schedule(): void {
    if (this.#scheduled || !this.isConnected) return
    this.#scheduled = true
    queueMicrotask(() => {
      if (this.#scheduled) void this.refresh()
    })
  }

  #listen(): void {
    if (this.#unsubscribe || !this.#store?.subscribe) return
    this.#unsubscribe = this.#store.subscribe(({ thread }) => {
      if (thread === this.#threadId) this.#schedule()
    })
  }

  async #load(): Promise<void> {
    const graph = this.#graph
    const threadId = this.#threadId
    this.#draw()
    if (!graph || !threadId) return this.#clear(HINT)
    const history: Snapshot[] = []
    let head: Snapshot | undefined
    try {
      for await (const snap of graph.getStateHistory({ threadId })) history.push(snap)
      if (history.length > 0) head = await graph.getState({ threadId })
    } catch (err) {
      return this.#clear(`Could not read thread "${threadId}": ${message(err)}`, true)
    }
    if (!head) return this.#clear(`Thread "${threadId}" has no checkpoints yet. Run the graph with this threadId, then refresh.`)
    // A selection on the head follows the head as the thread moves; any other selection stays put.
    const followHead = this.#selected === undefined || this.#selected === this.#head?.config.checkpointId
    this.#history = history
    this.#head = head
    this.#say(`Thread "${threadId}": ${history.length} checkpoint${history.length > 1 ? 's' : ''}.`)
    this.#render()
    const pick = this.#pick === null ? head.config.checkpointId : this.#pick
    // Kept until a read finds it: a refresh already under way may have read the thread before the action wrote.
    if (pick === undefined || this.#find(pick)) this.#pick = undefined
    const id = [pick, followHead ? head.config.checkpointId : this.#selected].find((c) => c !== undefined && this.#find(c)) ?? head.config.checkpointId
    await this.#select(id, true)
  }

  /** Forgets the thread and says why (`status`). */
  #clear(status: string, error = false): void {
    this.#history = []
    this.#head = undefined
    this.#selected = undefined
    this.#state.replaceChildren()
    this.#patch.replaceChildren()
    this.#title.textContent = ''
    this.#say(status, error)
    this.#render()
  }

  /** Redraws the timeline and the diff pickers from the history read last, keeping focus on the row that had it. */
  #render(): void {
    const head = this.#head?.config.checkpointId
    const focused = (this.shadowRoot?.activeElement as HTMLElement | null)?.dataset?.id
    const { gutter, from } = lanes(this.#history, head)
    this.#list.replaceChildren(...this.#history.map((snap, i) => timelineRow(snap, gutter[i] ?? [], snap.config.checkpointId === head, from.get(snap.config.checkpointId))))
    for (const select of [this.#from, this.#to]) {
      const value = select.value
      select.replaceChildren(...this.#history.map((snap) => h('option', { value: snap.config.checkpointId }, label(snap, head))))
      select.value = value
    }
    this.#replay.disabled = this.#forkButton.disabled = this.#history.length === 0
    this.#mark()
    if (focused) this.#row(focused)?.focus()
  }

  #say(text: string, error = false): void {
    this.#status.textContent = text
    this.#status.className = error ? 'error' : 'muted'
  }

  /** Draws the graph once per graph object; the running highlight is updated in place. */
  #draw(): void {
    const graph = this.#graph
    if (graph && this.#drawn?.graph === graph) return
    this.#drawn = undefined
    this.#picture.replaceChildren()
    this.#mermaid.textContent = ''
    if (!graph) return
    try {
      const drawable = getGraph(graph)
      this.#drawn = { graph, drawable, svg: drawGraph(drawable) }
      this.#picture.append(this.#drawn.svg)
      this.#mermaid.textContent = drawable.drawMermaid()
    } catch (err) {
      this.#picture.append(h('p', { class: 'error', role: 'alert' }, `Could not draw the graph: ${message(err)}`))
    }
    this.#mark()
  }

  #mark(): void {
    if (this.#drawn) markRunning(this.#drawn.svg, this.#drawn.drawable, this.#running ?? this.#head?.next ?? [])
  }

  #find(id: string): Snapshot | undefined {
    return this.#history.find((snap) => snap.config.checkpointId === id)
  }

  #row(id: string): HTMLElement | undefined {
    return [...this.#list.children].find((li) => (li as HTMLElement).dataset.id === id) as HTMLElement | undefined
  }

  /** Selects a checkpoint: marks its row and shows its state; `reload` reads it again even if it was selected. */
  async #select(id: string, reload = false): Promise<void> {
    const changed = id !== this.#selected
    this.#selected = id
    for (const li of this.#list.children as HTMLCollectionOf<HTMLElement>) {
      const on = li.dataset.id === id
      li.setAttribute('aria-selected', String(on))
      li.tabIndex = on ? 0 : -1
    }
    if (!changed && !reload) return
    // A new selection is compared with its parent; a refresh keeps the two checkpoints the user picked, if still there.
    if (changed || !this.#from.value || !this.#to.value) {
      const parent = this.#find(id)?.metadata.parentId
      this.#to.value = id
      this.#from.value = parent !== undefined && this.#find(parent) ? parent : id
    }
    if (changed) this.#emit('edgegraph-devtools:select', { checkpointId: id } satisfies DevtoolsSelectDetail)
    await Promise.all([this.#showState(), this.#showDiff()])
  }

  async #showState(): Promise<void> {
    const graph = this.#graph
    const threadId = this.#threadId
    const id = this.#selected
    if (!graph || !threadId || !id) return
    const seq = ++this.#stateSeq
    const snap = this.#find(id)
    this.#title.textContent = snap ? label(snap, this.#head?.config.checkpointId) : short(id)
    let view: Node[]
    try {
      view = stateView(await graph.getState({ threadId, checkpointId: id }))
    } catch (err) {
      view = [h('p', { class: 'error', role: 'alert' }, `Could not read checkpoint ${short(id)}: ${message(err)}`)]
    }
    if (seq === this.#stateSeq) this.#state.replaceChildren(...view)
  }

  async #showDiff(): Promise<void> {
    const graph = this.#graph
    const threadId = this.#threadId
    const a = this.#from.value
    const b = this.#to.value
    const seq = ++this.#diffSeq
    if (!graph || !threadId || !a || !b) return this.#patch.replaceChildren()
    let lines: HTMLLIElement[]
    try {
      const ops = await graph.diff({ threadId, checkpointId: a }, { threadId, checkpointId: b })
      lines = ops.length ? patchLines(ops, this.#find(a)?.values) : [h('li', { class: 'muted' }, a === b ? 'The same checkpoint: pick another to compare.' : 'No differences.')]
    } catch (err) {
      lines = [h('li', { class: 'error', role: 'alert' }, `Could not compare: ${message(err)}`)]
    }
    if (seq === this.#diffSeq) this.#patch.replaceChildren(...lines)
  }

  #onRow(e: Event): void {
    const id = ((e.target as Element).closest('[role=option]') as HTMLElement | null)?.dataset.id
    if (id) void this.#select(id)
  }

  /** Arrow keys, Home and End move through the rows; Enter and Space select (selecting loads, so it is not on focus). */
  #onKey(e: KeyboardEvent): void {
    const rows = [...this.#list.children] as HTMLElement[]
    const row = (e.target as Element).closest('[role=option]') as HTMLElement | null
    if (!row) return
    const i = rows.indexOf(row)
    const to = ({ ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: rows.length - 1 } as Record<string, number>)[e.key]
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault()
      if (row.dataset.id) void this.#select(row.dataset.id)
    } else if (to !== undefined && rows[to]) {
      e.preventDefault()
      row.tabIndex = -1
      rows[to].tabIndex = 0
      rows[to].focus()
    }
  }

  #submitFork(e: Event): void {
    e.preventDefault()
    let values: unknown
    try {
      values = JSON.parse(this.#forkValues.value)
    } catch (err) {
      return this.#tell(`The fork values are not valid JSON: ${message(err)}`, true)
    }
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      return this.#tell('The fork values must be a JSON object of channel names to values, such as {"draft": "hello"}.', true)
    }
    void this.#act('fork', (graph, config) => graph.updateState(config, values as never))
  }

  /** Runs an action on the selected checkpoint, refreshes, then tells the page; a failure is shown, never thrown. */
  async #act(action: DevtoolsActionDetail['action'], run: (graph: Graph, config: Required<ThreadConfig>) => Promise<unknown>): Promise<void> {
    const graph = this.#graph
    const threadId = this.#threadId
    const checkpointId = this.#selected
    if (!graph || !threadId || !checkpointId) return
    this.#replay.disabled = this.#forkButton.disabled = true
    this.#tell(action === 'replay' ? `Replaying from ${short(checkpointId)}…` : `Forking from ${short(checkpointId)}…`)
    let detail: DevtoolsActionDetail
    try {
      const result = await run(graph, { threadId, checkpointId })
      detail = { action, checkpointId, result }
      this.#pick = action === 'fork' ? (result as Required<ThreadConfig>).checkpointId : null
      this.#tell(action === 'replay' ? `Replayed from ${short(checkpointId)}.` : `Forked from ${short(checkpointId)}.`)
    } catch (err) {
      detail = { action, checkpointId, error: err instanceof Error ? err : new Error(String(err)) }
      this.#tell(`${action === 'replay' ? 'Replay' : 'Fork'} failed: ${message(err)}`, true)
    }
    await this.refresh()
    this.#emit('edgegraph-devtools:action', detail)
  }

  #tell(text: string, error = false): void {
    this.#note.textContent = text
    this.#note.className = error ? 'error' : 'muted'
  }

  async #copy(): Promise<void> {
    try {
      await navigator.clipboard.writeText(this.#mermaid.textContent ?? '')
      this.#copied.textContent = 'Copied.'
    } catch {
      this.#copied.textContent = 'Could not copy: select the text and copy it.'
    }
  }

  #emit(type: string, detail: unknown): void {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }))
  }
}
