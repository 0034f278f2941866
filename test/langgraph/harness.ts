/**
 * @module Differential harness: describe a graph once (channels, nodes as engine-neutral functions, edges,
 * conditional edges, Send, interrupts), build it for edgegraph and for LangGraph.js, run the same steps on both
 * and return results normalized so they can be compared with `toEqual`.
 *
 * Normalization (each is a known, listed difference, see FINDINGS.md): LangGraph's `__start__` checkpoint (the one
 * written before the input is applied, `next: ['__start__']`) is dropped from history; `next` lists are sorted
 * (LangGraph lists Send tasks first, then pulled nodes); interrupts are compared by value (ids differ by design);
 * static interrupts (interruptBefore/After) show as `next`, not as interrupt values; LangGraph messages become
 * plain `{ type, content, ... }` objects.
 */
import { RunnableLambda } from '@langchain/core/runnables'
import { expect } from 'vitest'
import {
  Annotation,
  Command as LgCommand,
  END as LG_END,
  MemorySaver,
  START as LG_START,
  Send as LgSend,
  StateGraph as LgStateGraph,
  interrupt as lgInterrupt,
  messagesStateReducer as lgMessagesReducer,
} from '@langchain/langgraph'
import { LastValue } from '@langchain/langgraph/channels'
import { InMemoryCache } from '@langchain/langgraph-checkpoint'
import { Command, END, MessagesValue, START, Send, StateGraph, type NodeContext } from '../../src/index.js'
import { createMemoryAdapter } from '../../adapters/memory.js'
import { createCache } from '../../src/cache.js'

/** State as node functions see it. Loose on purpose: the same function runs on both engines. */
export type State = Record<string, any>

/** A Send built for whichever engine runs the node (opaque to node code). */
export type SendLike = { readonly node: string }

/** What a node or a conditional edge gets instead of engine imports. */
export interface Ops {
  readonly engine: 'edgegraph' | 'langgraph'
  readonly START: string
  readonly END: string
  /** `interrupt(value)`: LangGraph's imported function, edgegraph's `ctx.interrupt`. Only inside nodes. */
  interrupt<R = unknown>(value: unknown): R
  /** `new Command(...)` of the running engine. `graph: 'PARENT'` is LangGraph's `Command.PARENT`. */
  command(options: { update?: Record<string, unknown>; goto?: string | SendLike | (string | SendLike)[]; resume?: unknown; graph?: 'PARENT' }): unknown
  /** `new Send(node, arg)` of the running engine. */
  send(node: string, arg: unknown): SendLike
  /** Custom stream output: LangGraph's `config.writer`, edgegraph's `ctx.write`. Only inside nodes. */
  write(chunk: unknown): void
}

export type NodeFn = (state: State, ops: Ops) => unknown
export type PathFn = (state: State, ops: Ops) => unknown

/**
 * A channel: `last` (one writer per step, optional default), `append` (list; an update is a list or one item),
 * `add` (number, starts at 0), or any `reducer`.
 */
export type ChannelDesc =
  | { kind: 'last'; default?: () => unknown }
  | { kind: 'append' }
  | { kind: 'add' }
  | { kind: 'reducer'; reducer: (current: never, update: never) => unknown; default?: () => unknown }
  /** A messages channel: edgegraph's `MessagesValue`, LangGraph's `messagesStateReducer` (messages become LangChain's). */
  | { kind: 'messages' }

/** A node: a function, or a description with node options (LangGraph's names) or a subgraph. */
export interface NodeDesc {
  fn?: NodeFn
  subgraph?: GraphDesc
  ends?: string[]
  retryPolicy?: { maxAttempts?: number; initialInterval?: number; backoffFactor?: number; maxInterval?: number; jitter?: boolean; retryOn?: (e: unknown) => boolean }
  defer?: boolean
  cachePolicy?: { ttl?: number; keyFunc?: (args: unknown[]) => string }
}

export interface GraphDesc {
  channels: Record<string, ChannelDesc>
  nodes: Record<string, NodeFn | NodeDesc>
  /** `[from, to]`; `from` may be a list (a waiting edge: `to` runs once all of them ran). */
  edges?: [from: string | string[], to: string][]
  conditional?: { from: string; path: PathFn; pathMap?: Record<string, string> | string[] }[]
  interruptBefore?: string[]
  interruptAfter?: string[]
  /** Compile with a node cache: edgegraph's `createCache(memory adapter)`, LangGraph's `InMemoryCache`. */
  cache?: boolean
}

/** One thing to do on the thread. `checkpoint` picks a checkpoint by its index in the history (newest first). */
export type Step =
  | { invoke: Record<string, unknown> | null; checkpoint?: number; recursionLimit?: number }
  | { resume: unknown; checkpoint?: number }
  | { command: { resume?: unknown; update?: Record<string, unknown>; goto?: string | string[] }; checkpoint?: number }
  | { updateState: Record<string, unknown>; asNode?: string; checkpoint?: number }
  /** `stream`, with `Command({ resume })` as input when `resume` is given. */
  | { stream: Record<string, unknown> | null; streamMode: string | string[]; resume?: unknown; checkpoint?: number }
  | { getState: true; checkpoint?: number }
  /**
   * Answers every pending `interrupt()` with `answer(value)`: a plain resume value when one is pending, a map from
   * interrupt id to value when several are (ids differ between engines, so a test cannot spell them). With nothing
   * pending, does nothing and records `idle`.
   */
  | { resumeEach: (value: unknown) => unknown; checkpoint?: undefined }

export interface StepResult {
  /** The step threw (message kept for debugging; compare with `threw`). */
  threw: boolean
  error?: string
  /** invoke: the values returned (without `__interrupt__`). */
  values?: State
  /** invoke: values of the interrupts it returned (interrupt() calls; static ones are not values). */
  interrupts?: unknown[]
  /** stream: the chunks, normalized. */
  chunks?: unknown[]
  /** resumeEach: nothing was pending. */
  idle?: boolean
  /** getState: the snapshot. */
  state?: CheckpointView & { interrupts: unknown[] }
}

export interface CheckpointView {
  values: State
  next: string[]
}

export interface EngineResult {
  steps: StepResult[]
  /** getState at the end (`threw` when getState itself failed). */
  state: CheckpointView & { interrupts: unknown[]; threw?: boolean; error?: string }
  /** Normalized history length (all branches of the thread). */
  checkpoints: number
  /** Newest first. */
  history: CheckpointView[]
}

export interface BothResults {
  edgegraph: EngineResult
  langgraph: EngineResult
}

export interface RunOptions {
  threadId?: string
  recursionLimit?: number
}

function nodeDesc(n: NodeFn | NodeDesc): NodeDesc {
  return typeof n === 'function' ? { fn: n } : n
}

/** The node options (LangGraph names) other than `ends`, passed as they are to both engines. */
function nodeOptions(d: NodeDesc): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (d.ends) out.ends = d.ends
  if (d.retryPolicy) out.retryPolicy = d.retryPolicy
  if (d.defer !== undefined) out.defer = d.defer
  if (d.cachePolicy) out.cachePolicy = d.cachePolicy
  return out
}

const appendReducer = (a: unknown[], b: unknown) => [...a, ...(Array.isArray(b) ? b : [b])]
const addReducer = (a: number, b: number) => a + b

// ---------------------------------------------------------------------------------------------------------------
// edgegraph

function edgeOps(ctx: NodeContext | undefined): Ops {
  return {
    engine: 'edgegraph',
    START,
    END,
    interrupt: <R>(value: unknown): R => {
      if (!ctx) throw new Error('interrupt() outside a node')
      return ctx.interrupt<R>(value)
    },
    command: (options) => {
      if (options.graph === 'PARENT') {
        // Intended API: LangGraph's Command.PARENT. edgegraph's Command takes `graph` once it has it.
        return new Command({ ...(options as object), graph: (Command as unknown as { PARENT?: unknown }).PARENT ?? '__parent__' } as never)
      }
      return new Command(options as never)
    },
    send: (node, arg) => new Send(node, arg),
    write: (chunk) => {
      if (!ctx) throw new Error('ctx.write is only available inside nodes')
      ctx.write(chunk)
    },
  }
}

type AnyCompiled = any

/** Builds the description as an edgegraph graph (memory adapter unless `sub`). */
export function buildEdgegraph(desc: GraphDesc, sub = false): AnyCompiled {
  const channels: Record<string, object> = {}
  for (const [name, ch] of Object.entries(desc.channels)) {
    if (ch.kind === 'last') channels[name] = ch.default ? { default: ch.default } : {}
    else if (ch.kind === 'append') channels[name] = { default: () => [], reducer: appendReducer }
    else if (ch.kind === 'add') channels[name] = { default: () => 0, reducer: addReducer }
    else if (ch.kind === 'messages') channels[name] = MessagesValue
    else channels[name] = ch.default ? { default: ch.default, reducer: ch.reducer } : { reducer: ch.reducer }
  }
  let g: any = new StateGraph(channels as never)
  for (const [name, n] of Object.entries(desc.nodes)) {
    const d = nodeDesc(n)
    const fn = d.fn
    const node = d.subgraph ? buildEdgegraph(d.subgraph, true) : (s: State, ctx: NodeContext) => (fn as NodeFn)(s, edgeOps(ctx))
    g = g.addNode(name, node, nodeOptions(d))
  }
  for (const [from, to] of desc.edges ?? []) g = g.addEdge(from, to)
  for (const c of desc.conditional ?? []) g = g.addConditionalEdges(c.from, (s: State) => c.path(s, edgeOps(undefined)), c.pathMap)
  const options: Record<string, unknown> = {}
  if (!sub) options.checkpointer = createMemoryAdapter()
  if (desc.cache) options.cache = createCache(createMemoryAdapter())
  if (desc.interruptBefore) options.interruptBefore = desc.interruptBefore
  if (desc.interruptAfter) options.interruptAfter = desc.interruptAfter
  return g.compile(options)
}

// ---------------------------------------------------------------------------------------------------------------
// LangGraph.js

function lgOps(config: { writer?: (c: unknown) => void } | undefined): Ops {
  return {
    engine: 'langgraph',
    START: LG_START,
    END: LG_END,
    interrupt: <R>(value: unknown): R => lgInterrupt(value) as R,
    command: (options) => {
      const { graph, ...rest } = options
      return new LgCommand({ ...(rest as object), ...(graph === 'PARENT' ? { graph: LgCommand.PARENT } : {}) } as never)
    },
    send: (node, arg) => new LgSend(node, arg),
    write: (chunk) => {
      if (!config?.writer) throw new Error('config.writer is not available')
      config.writer(chunk)
    },
  }
}

/** Builds the description as a LangGraph.js graph (MemorySaver unless `sub`). */
export function buildLangGraph(desc: GraphDesc, sub = false): AnyCompiled {
  const spec: Record<string, unknown> = {}
  for (const [name, ch] of Object.entries(desc.channels)) {
    if (ch.kind === 'last') spec[name] = ch.default ? new LastValue(ch.default) : Annotation()
    else if (ch.kind === 'append') spec[name] = Annotation({ reducer: appendReducer as never, default: () => [] })
    else if (ch.kind === 'add') spec[name] = Annotation({ reducer: addReducer as never, default: () => 0 })
    else if (ch.kind === 'messages') spec[name] = Annotation({ reducer: lgMessagesReducer as never, default: () => [] })
    else spec[name] = Annotation({ reducer: ch.reducer as never, ...(ch.default ? { default: ch.default as never } : {}) })
  }
  let g: any = new (LgStateGraph as new (state: unknown) => unknown)(Annotation.Root(spec as never))
  for (const [name, n] of Object.entries(desc.nodes)) {
    const d = nodeDesc(n)
    const fn = d.fn
    const node = d.subgraph ? buildLangGraph(d.subgraph, true) : (s: State, config: { writer?: (c: unknown) => void }) => (fn as NodeFn)(s, lgOps(config))
    g = g.addNode(name, node, nodeOptions(d))
  }
  for (const [from, to] of desc.edges ?? []) g = g.addEdge(from, to)
  // LangGraph names each conditional edge of a node after its function and refuses two with one name.
  ;(desc.conditional ?? []).forEach((c, i) => {
    const path = RunnableLambda.from((s: State) => c.path(s, lgOps(undefined)))
    path.name = `condition_${i}`
    g = g.addConditionalEdges(c.from, path, c.pathMap)
  })
  const options: Record<string, unknown> = {}
  if (!sub) options.checkpointer = new MemorySaver()
  if (desc.cache) options.cache = new InMemoryCache()
  if (desc.interruptBefore) options.interruptBefore = desc.interruptBefore
  if (desc.interruptAfter) options.interruptAfter = desc.interruptAfter
  return g.compile(options)
}

// ---------------------------------------------------------------------------------------------------------------
// Normalization

/** LangGraph messages (and anything with toDict-like shape) as plain objects; everything else deep-copied. */
export function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain)
  if (value !== null && typeof value === 'object') {
    const v = value as Record<string, unknown> & { _getType?: () => string; getType?: () => string }
    if (typeof v._getType === 'function' && 'content' in v) {
      const out: Record<string, unknown> = { type: v._getType(), content: plain(v.content) }
      if (Array.isArray(v.tool_calls) && v.tool_calls.length > 0) out.tool_calls = plain(v.tool_calls)
      if (typeof v.tool_call_id === 'string') out.tool_call_id = v.tool_call_id
      if (typeof v.id === 'string') out.id = v.id
      return out
    }
    if (value instanceof Map || value instanceof Set || value instanceof Date) return value
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = plain(x)
    return out
  }
  return value
}

function stripInterrupt(values: unknown): State {
  const out: State = {}
  if (values && typeof values === 'object') for (const [k, v] of Object.entries(values)) if (k !== '__interrupt__') out[k] = v
  return plain(out) as State
}

/**
 * A stream chunk, plain, with interrupts reduced to their values: ids differ by design, and LangGraph reports static
 * interrupts as an empty `__interrupt__` list where edgegraph lists them with `when: 'before' | 'after'`.
 */
function chunkOf(chunk: unknown): unknown {
  const reduce = (x: unknown): unknown => {
    if (!x || typeof x !== 'object' || Array.isArray(x) || !('__interrupt__' in x)) return x
    const list = (x as { __interrupt__: { value: unknown; when?: string }[] }).__interrupt__
    return { ...x, __interrupt__: list.filter((i) => i.when === undefined || i.when === 'during').map((i) => ({ value: plain(i.value) })) }
  }
  const p = plain(chunk)
  if (Array.isArray(p) && p.length === 2 && typeof p[0] === 'string') return [p[0], reduce(p[1])]
  return reduce(p)
}

// ---------------------------------------------------------------------------------------------------------------
// Running

/** What runBoth needs from an engine. */
interface Engine {
  history(): Promise<{ view: CheckpointView; ref: unknown }[]>
  state(ref?: unknown): Promise<CheckpointView & { interrupts: unknown[] }>
  invoke(input: unknown, ref: unknown, recursionLimit: number | undefined): Promise<{ values: State; interrupts: unknown[] }>
  stream(input: unknown, ref: unknown, streamMode: string | string[]): Promise<unknown[]>
  updateState(ref: unknown, values: Record<string, unknown>, asNode: string | undefined): Promise<void>
  resumeCommand(options: Record<string, unknown>): unknown
  pending(): Promise<{ id: string; value: unknown }[]>
}

function edgeEngine(graph: AnyCompiled, threadId: string, recursionLimit: number | undefined): Engine {
  const config = (ref: unknown) => ({ threadId, ...(ref ? { checkpointId: ref as string } : {}) })
  return {
    async history() {
      const out = []
      try {
        for await (const s of graph.getStateHistory({ threadId })) out.push({ view: { values: plain(s.values) as State, next: [...s.next].sort() }, ref: s.config.checkpointId })
      } catch (err) {
        if ((err as { code?: string }).code !== 'THREAD_NOT_FOUND') throw err
      }
      return out
    },
    async state(ref) {
      const s = await graph.getState(config(ref))
      return {
        values: plain(s.values) as State,
        next: [...s.next].sort(),
        interrupts: byValue(s.interrupts.filter((i: { when: string }) => i.when === 'during').map((i: { value: unknown }) => i.value)),
      }
    },
    async invoke(input, ref, limit) {
      const rl = limit ?? recursionLimit
      const result = await graph.invoke(input, { ...config(ref), ...(rl ? { recursionLimit: rl } : {}) })
      const interrupts = byValue((result.__interrupt__ ?? []).filter((i: { when: string }) => i.when === 'during').map((i: { value: unknown }) => i.value))
      return { values: stripInterrupt(result), interrupts }
    },
    async stream(input, ref, streamMode) {
      const out: unknown[] = []
      for await (const chunk of graph.stream(input, { ...config(ref), streamMode, ...(recursionLimit ? { recursionLimit } : {}) })) out.push(chunkOf(chunk))
      return out
    },
    async updateState(ref, values, asNode) {
      await graph.updateState(config(ref), values, asNode)
    },
    resumeCommand: (options) => new Command(options as never),
    async pending() {
      const s = await graph.getState({ threadId })
      return s.interrupts.filter((i: { when: string }) => i.when === 'during')
    },
  }
}

function lgEngine(graph: AnyCompiled, threadId: string, recursionLimit: number | undefined): Engine {
  const config = (ref: unknown) => ({ configurable: { thread_id: threadId, ...(ref ? { checkpoint_id: ref as string } : {}) } })
  return {
    async history() {
      const out = []
      for await (const s of graph.getStateHistory({ configurable: { thread_id: threadId } })) {
        // The checkpoint written before an input is applied: edgegraph applies the input in its first checkpoint.
        if (s.next.length === 1 && s.next[0] === LG_START) continue
        out.push({ view: { values: plain(s.values) as State, next: [...s.next].sort() }, ref: s.config.configurable.checkpoint_id })
      }
      return out
    },
    async state(ref) {
      const s = await graph.getState(config(ref))
      return {
        values: plain(s.values) as State,
        next: [...s.next].sort(),
        interrupts: byValue(s.tasks.flatMap((t: { interrupts: { value: unknown }[] }) => t.interrupts.map((i) => i.value))),
      }
    },
    async invoke(input, ref, limit) {
      const rl = limit ?? recursionLimit
      const result = await graph.invoke(input, { ...config(ref), ...(rl ? { recursionLimit: rl } : {}) })
      const interrupts = byValue((result?.__interrupt__ ?? []).map((i: { value: unknown }) => i.value))
      return { values: stripInterrupt(result), interrupts }
    },
    async stream(input, ref, streamMode) {
      const out: unknown[] = []
      for await (const chunk of await graph.stream(input, { ...config(ref), streamMode, ...(recursionLimit ? { recursionLimit } : {}) })) out.push(chunkOf(chunk))
      return out
    },
    async updateState(ref, values, asNode) {
      await graph.updateState(config(ref), values, asNode)
    },
    resumeCommand: (options) => new LgCommand(options as never),
    async pending() {
      const s = await graph.getState({ configurable: { thread_id: threadId } })
      return s.tasks.flatMap((t: { interrupts: { id: string; value: unknown }[] }) => t.interrupts)
    },
  }
}

let threadCounter = 0

async function runOn(engine: Engine, steps: Step[]): Promise<EngineResult> {
  const results: StepResult[] = []
  for (const step of steps) {
    try {
      let ref: unknown
      if (step.checkpoint !== undefined) {
        const history = await engine.history()
        const entry = history[step.checkpoint]
        if (!entry) throw new Error(`harness: no checkpoint at index ${step.checkpoint} (history has ${history.length})`)
        ref = entry.ref
      }
      if ('invoke' in step) {
        results.push({ threw: false, ...(await engine.invoke(step.invoke, ref, step.recursionLimit)) })
      } else if ('resume' in step && !('stream' in step)) {
        results.push({ threw: false, ...(await engine.invoke(engine.resumeCommand({ resume: step.resume }), ref, undefined)) })
      } else if ('command' in step) {
        results.push({ threw: false, ...(await engine.invoke(engine.resumeCommand(step.command), ref, undefined)) })
      } else if ('resumeEach' in step) {
        const pending = await engine.pending()
        if (pending.length === 0) results.push({ threw: false, idle: true })
        else {
          const resume = pending.length === 1 ? step.resumeEach((pending[0] as { value: unknown }).value) : Object.fromEntries(pending.map((i) => [i.id, step.resumeEach(i.value)]))
          results.push({ threw: false, ...(await engine.invoke(engine.resumeCommand({ resume }), undefined, undefined)) })
        }
      } else if ('getState' in step) {
        results.push({ threw: false, state: await engine.state(ref) })
      } else if ('updateState' in step) {
        await engine.updateState(ref, step.updateState, step.asNode)
        results.push({ threw: false })
      } else {
        const input = 'resume' in step ? engine.resumeCommand({ resume: step.resume }) : step.stream
        results.push({ threw: false, chunks: await engine.stream(input, ref, step.streamMode) })
      }
    } catch (err) {
      results.push({ threw: true, error: String((err as Error)?.message ?? err) })
    }
  }
  const history = (await engine.history()).map((h) => h.view)
  let state: EngineResult['state'] = { values: {}, next: [], interrupts: [] }
  if (history.length > 0) {
    try {
      state = await engine.state()
    } catch (err) {
      state = { values: {}, next: [], interrupts: [], threw: true, error: String((err as Error)?.message ?? err) }
    }
  }
  return { steps: results, state, checkpoints: history.length, history }
}

/**
 * Builds `desc` for both engines and runs `steps` on a fresh thread of each. A build that throws (an option or
 * edge shape an engine does not take) throws here, naming the engine.
 */
export async function runBoth(desc: GraphDesc, steps: Step[], options: RunOptions = {}): Promise<BothResults> {
  const threadId = options.threadId ?? `t${++threadCounter}`
  let eg: AnyCompiled
  let lg: AnyCompiled
  try {
    eg = buildEdgegraph(desc)
  } catch (err) {
    throw new Error(`edgegraph could not build the graph: ${(err as Error).message}`, { cause: err })
  }
  try {
    lg = buildLangGraph(desc)
  } catch (err) {
    throw new Error(`LangGraph could not build the graph: ${(err as Error).message}`, { cause: err })
  }
  const [edgegraph, langgraph] = [await runOn(edgeEngine(eg, threadId, options.recursionLimit), steps), await runOn(lgEngine(lg, threadId, options.recursionLimit), steps)]
  return { edgegraph, langgraph }
}

/** The parts of an engine's result that are compared (error messages are engine-specific). */
export function comparable(r: EngineResult): EngineResult {
  const { error: _error, ...state } = r.state
  return { ...r, state, steps: r.steps.map(({ error: _e, ...rest }) => rest) }
}

/** The errors each engine's steps threw, for failure messages (the diff shows the rest). */
export function describeBoth(r: BothResults): string {
  const errors = (e: EngineResult) => e.steps.flatMap((s, i) => (s.error ? [`step ${i}: ${s.error.split('\n')[0]}`] : [])).join('; ') || 'none'
  return `errors: edgegraph ${errors(r.edgegraph)} | LangGraph ${errors(r.langgraph)}`
}

/**
 * Expects both engines to give the same comparable results. Unless `allowErrors`, also expects LangGraph to have
 * thrown nowhere, so two engines failing alike cannot pass for a match.
 */
export function expectSame(r: BothResults, options: { allowErrors?: boolean } = {}): void {
  if (!options.allowErrors) {
    const failed = r.langgraph.steps.find((s) => s.threw)
    expect(failed?.error, 'LangGraph threw: the scenario itself is wrong').toBeUndefined()
  }
  expect(comparable(r.edgegraph), describeBoth(r)).toEqual(comparable(r.langgraph))
}

/** Interrupt values in a fixed order: LangGraph lists a step's interrupts in the order its tasks wrote them (timing). */
function byValue(values: unknown[]): unknown[] {
  return [...values].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))
}
