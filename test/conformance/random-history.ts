/**
 * @module Conformance, random histories: fast-check drives one thread through random runs, interrupts, failures,
 * updates, forks and replays; a model predicts every checkpoint, and a fresh graph must read all of them back.
 */
import fc from 'fast-check'
import { describe, expect } from 'vitest'
import { Command, END, START, Send, StateGraph, type Interrupt, type Source, type StateSnapshot, type StorageAdapter, type TaskInfo } from '../../src/index.js'
import { collect, dump, keysOf, ordered, recordRun, rejectsWith, runsOf, type Announced, type ConformanceOptions, type Test } from './suite.js'

// ---- the graph: START → left and Send(right) (in parallel) → join → END -------------------------------------

/** Channels of several shapes: an append list, a last-value number, a merged object, a merged Map, a Date. */
const channels = {
  log: { default: (): string[] => [], reducer: (a: string[], b: string[]) => a.concat(b) },
  n: { default: () => 0 },
  obj: { default: (): Record<string, unknown> => ({}), reducer: (a: Record<string, unknown>, b: Record<string, unknown>) => ({ ...a, ...b }) },
  tags: { default: () => new Map<string, number>(), reducer: (a: Map<string, number>, b: Map<string, number>) => new Map([...a, ...b]) },
  at: { default: () => new Date(0) },
}
interface State {
  log: string[]
  n: number
  obj: Record<string, unknown>
  tags: Map<string, number>
  at: Date
}
type Update = Partial<State>
type NodeName = 'left' | 'right' | 'join'
/** What START sends `right`: fixed when sent, so a later update of the state does not change it. */
interface RightArg {
  n: number
  len: number
  seen: Map<string, Date>
}

/** What the nodes compute, shared by the graph and the model so both agree by construction. */
const logic = {
  // Several items appended in one step are stored as one array delta: all of them must read back.
  left: (s: State, burst: number): Update => ({ log: Array.from({ length: burst }, (_, i) => `L${s.n}.${i}`), obj: { left: s.log.length } }),
  send: (s: State): RightArg => ({ n: s.n, len: s.log.length, seen: new Map([['at', s.at]]) }),
  right: (arg: RightArg): Update => ({ n: arg.n + 1, tags: new Map([[`r${arg.len}@${arg.seen.get('at')?.getTime()}`, arg.n]]) }),
  join: (s: State, answer: string | undefined): Update => ({
    log: [`J:${answer ?? '-'}`],
    obj: { join: answer ?? null },
    at: new Date(Date.UTC(2024, 0, 1) + (Number.isFinite(s.n) ? s.n % 1e6 : 0) * 1000),
  }),
  question: (s: State) => ({ q: 'approve?', n: s.n, at: s.at }),
  leftError: (s: State) => `left failed after ${s.log.length} log entries`,
}

/** How the nodes behave in the current operation (`burst`: how many log entries left appends), and how often each ran. */
interface Flags {
  failLeft: boolean
  ask: boolean
  burst: number
}
interface Control {
  flags: Flags
  calls: Record<NodeName, number>
}
const noCalls = (): Record<NodeName, number> => ({ left: 0, right: 0, join: 0 })

function buildGraph(adapter: StorageAdapter, control: Control) {
  return new StateGraph(channels)
    .addNode('left', (s) => {
      control.calls.left++
      if (control.flags.failLeft) throw new Error(logic.leftError(s))
      return logic.left(s, control.flags.burst)
    })
    .addNode('right', (arg) => {
      control.calls.right++
      return logic.right(arg as unknown as RightArg)
    })
    .addNode('join', (s, ctx) => {
      control.calls.join++
      const answer = control.flags.ask ? ctx.interrupt<string>(logic.question(s)) : undefined
      return logic.join(s, answer)
    })
    .addEdge(START, 'left')
    .addConditionalEdges(START, (s) => new Send('right', logic.send(s)))
    .addEdge('left', 'join')
    .addEdge('right', 'join')
    .addEdge('join', END)
    .compile({ checkpointer: adapter })
}
type Graph = ReturnType<typeof buildGraph>

// ---- the model ------------------------------------------------------------------------------------------------

/** Where a checkpoint stands: before the fan-out, before join, or finished. */
type Stage = 'fanout' | 'join' | 'done'
const NEXT: Record<Stage, NodeName[]> = { fanout: ['left', 'right'], join: ['join'], done: [] }

/** What the step after a checkpoint left behind: left failed while right finished, or join is waiting for an answer. */
type Pending = { kind: 'failure'; error: string; right: Update } | { kind: 'interrupt'; value: unknown }

interface ModelCheckpoint {
  id: string
  parentId: string | undefined
  step: number
  source: Source
  stage: Stage
  /** The argument `right` was sent, for a checkpoint at the fan-out. */
  arg?: RightArg | undefined
  /** The nodes whose step made it (undefined: the input, or an update applied as the input). */
  by?: NodeName[] | undefined
  values: State
  pending?: Pending | undefined
}

function defaults(): State {
  return { log: channels.log.default(), n: channels.n.default(), obj: channels.obj.default(), tags: channels.tags.default(), at: channels.at.default() }
}

function apply(values: State, update: Update): State {
  const out = { ...values }
  if (update.log !== undefined) out.log = channels.log.reducer(out.log, update.log)
  if (update.n !== undefined) out.n = update.n
  if (update.obj !== undefined) out.obj = channels.obj.reducer(out.obj, update.obj)
  if (update.tags !== undefined) out.tags = channels.tags.reducer(out.tags, update.tags)
  if (update.at !== undefined) out.at = update.at
  return out
}

interface Planned {
  created: Omit<ModelCheckpoint, 'id' | 'parentId'>[]
  pending: Pending | undefined
  outcome: 'done' | 'failed' | 'interrupted'
  calls: Record<NodeName, number>
  /** A run that finishes `from`'s step folds that step's pending writes in; a new input leaves them be. */
  folds: boolean
}

/** What a run from `from` must do: the checkpoints it commits, what it leaves pending, which nodes it runs. */
function plan(from: ModelCheckpoint | undefined, flags: Flags, how: { input?: Update; resume?: string; replay?: boolean }): Planned {
  const calls = noCalls()
  const created: Planned['created'] = []
  const folds = how.input === undefined
  let values: State
  let stage: Stage
  let step: number
  let pending: Pending | undefined
  let arg: RightArg | undefined
  if (how.input) {
    values = apply(from?.values ?? defaults(), how.input)
    stage = 'fanout'
    step = from ? from.step + 1 : 0
    arg = logic.send(values)
    created.push({ step, source: 'input', stage, arg, values })
  } else {
    if (!from) throw new Error('model: nothing to continue')
    ;({ values, stage, step, pending, arg } = from)
  }
  let resume = how.resume
  while (stage !== 'done') {
    if (stage === 'fanout') {
      calls.left++
      // A finished sibling's pending writes are reused: right does not run again.
      let right: Update
      if (pending?.kind === 'failure') right = pending.right
      else {
        calls.right++
        right = logic.right(arg as RightArg)
      }
      if (flags.failLeft) return { created, pending: { kind: 'failure', error: logic.leftError(values), right }, outcome: 'failed', calls, folds }
      values = apply(apply(values, logic.left(values, flags.burst)), right)
      stage = 'join'
    } else {
      calls.join++
      let answer: string | undefined
      if (flags.ask) {
        if (resume === undefined) return { created, pending: { kind: 'interrupt', value: logic.question(values) }, outcome: 'interrupted', calls, folds }
        answer = resume
      }
      resume = undefined
      values = apply(values, logic.join(values, answer))
      stage = 'done'
    }
    step++
    pending = undefined
    arg = undefined
    created.push({ step, source: how.replay && created.length === 0 ? 'fork' : 'loop', stage, values, by: stage === 'join' ? ['left', 'right'] : ['join'] })
  }
  return { created, pending: undefined, outcome: 'done', calls, folds }
}

/** The snapshot fields the model predicts, in the shape `getState` returns them. */
function expected(cp: ModelCheckpoint, threadId: string, asStored = false) {
  const tasks = NEXT[cp.stage].map((name, i) => {
    const task: TaskInfo = { id: `${cp.id}:${i}`, name, interrupts: [] }
    const p = cp.pending
    if (p?.kind === 'failure' && name === 'left') task.error = { name: 'Error', message: p.error }
    if (p?.kind === 'failure' && name === 'right') task.result = p.right
    if (p?.kind === 'interrupt') task.interrupts = [{ id: `${cp.id}:${i}:0`, node: name, when: 'during', value: p.value } satisfies Interrupt]
    return task
  })
  // As LangGraph.js's getState shows a checkpoint whose step failed: the finished task's writes applied, and not next
  // again. History shows checkpoints as stored.
  const failed = cp.pending?.kind === 'failure' && !asStored ? cp.pending : undefined
  return {
    values: failed ? apply(cp.values, failed.right) : cp.values,
    next: failed ? NEXT[cp.stage].filter((n) => n !== 'right') : NEXT[cp.stage],
    tasks,
    interrupts: tasks.flatMap((t) => t.interrupts),
    source: cp.source,
    step: cp.step,
    parentId: cp.parentId,
    config: { threadId, checkpointId: cp.id },
    parentConfig: cp.parentId === undefined ? undefined : { threadId, checkpointId: cp.parentId },
  }
}

function project(s: StateSnapshot<State>) {
  const { values, next, tasks, interrupts, config, parentConfig } = s
  return { values, next, tasks, interrupts, source: s.metadata.source, step: s.metadata.step, parentId: s.metadata.parentId, config, parentConfig }
}

// ---- operations -----------------------------------------------------------------------------------------------

type Op =
  | { kind: 'input'; input: Update; big: boolean; flags: Flags }
  | { kind: 'resume'; answer: string; flags: Flags }
  | { kind: 'continue'; flags: Flags }
  | { kind: 'update'; update: Update; asNode: NodeName | undefined }
  | { kind: 'fork'; pick: number; update: Update; asNode: NodeName | undefined; flags: Flags }
  | { kind: 'replay'; pick: number; flags: Flags }

const rarely = fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) })
const burstArb = fc.integer({ min: 0, max: 8 })
const flagsArb = fc.record({ failLeft: rarely, ask: fc.boolean(), burst: burstArb })
const word = fc.string({ unit: 'binary', maxLength: 8 })
const numberArb = fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.constantFrom(-0, 0.5, Number.NaN, Number.POSITIVE_INFINITY))
/** Keys in no sorted order ('r10' < 'r9' as strings): a Map or Set must read back in insertion order. */
const mapKey = fc.constantFrom('z', 'm', 'b', 'a', 'r9', 'r10', '$t', '__proto__')
const tagsArb = fc.uniqueArray(fc.tuple(mapKey, fc.integer({ min: -9, max: 9 })), { selector: ([k]) => k, maxLength: 5 }).map((entries) => new Map(entries))
const setArb = fc.uniqueArray(fc.oneof(mapKey, fc.integer({ min: -9, max: 9 })), { maxLength: 4 }).map((items) => new Set(items))
// '$t' is the serde's tag key and '__proto__' must stay an own key: both must round-trip as plain keys.
const objArb = fc
  .array(fc.tuple(fc.constantFrom('a', 'b', 'left', '$t', '__proto__'), fc.oneof(fc.integer(), word, fc.constant(null), fc.date({ noInvalidDate: true }), tagsArb, setArb)), { maxLength: 3 })
  .map((entries) => Object.fromEntries(entries) as Record<string, unknown>)
const logArb = (minLength: number) => fc.array(word, { minLength, maxLength: 8 })
const updateArb = fc.record({ n: numberArb, obj: objArb, log: logArb(0), tags: tagsArb }, { requiredKeys: [] }) as fc.Arbitrary<Update>
const asNodeArb = fc.constantFrom<NodeName | undefined>(undefined, undefined, 'left', 'right', 'join')

const inputOp: fc.Arbitrary<Op> = fc.record({
  kind: fc.constant('input' as const),
  input: fc.record({ log: logArb(1), n: numberArb, obj: objArb, tags: tagsArb }, { requiredKeys: ['log'] }) as fc.Arbitrary<Update>,
  big: rarely,
  flags: flagsArb,
})
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: inputOp },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('resume' as const), answer: word, flags: fc.record({ failLeft: rarely, ask: fc.constant(true), burst: burstArb }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('continue' as const), flags: flagsArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('update' as const), update: updateArb, asNode: asNodeArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('fork' as const), pick: fc.nat(), update: updateArb, asNode: asNodeArb, flags: flagsArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('replay' as const), pick: fc.nat(), flags: flagsArb }) },
)
const historyArb = fc.tuple(inputOp, fc.array(opArb, { maxLength: 15 })).map(([first, rest]) => [first, ...rest])

// ---- one property run -----------------------------------------------------------------------------------------

const threadId = 'random'

/** Plays `ops` on a fresh adapter, checking each against the model as it goes, then reads everything back fresh. */
async function play(adapter: StorageAdapter, ops: Op[], bigEntry: string | undefined): Promise<void> {
  const control: Control = { flags: { failLeft: false, ask: false, burst: 1 }, calls: noCalls() }
  const graph = buildGraph(adapter, control)
  const model: ModelCheckpoint[] = []
  let head: ModelCheckpoint | undefined
  /** Metadata and creation time as the engine showed them right after each checkpoint was made. */
  const recorded = new Map<string, StateSnapshot<State>>()

  const check = async (g: Graph, cp: ModelCheckpoint) => {
    const snap = await g.getState({ threadId, checkpointId: cp.id })
    expect(ordered(project(snap))).toStrictEqual(ordered(expected(cp, threadId)))
    return snap
  }

  const afterRun = async (from: ModelCheckpoint | undefined, planned: Planned, run: { created: Announced[]; error: unknown }) => {
    if (planned.outcome === 'failed') expect((await rejectsWith(Promise.reject(run.error), 'NODE_FAILED')).context.node).toBe('left')
    else expect(run.error).toBeUndefined()
    expect(control.calls).toEqual(planned.calls)
    expect(run.created.map((c) => c.metadata.source)).toEqual(planned.created.map((c) => c.source))
    let parentId = from?.id
    const made = planned.created.map((c, i): ModelCheckpoint => {
      const cp = { ...c, id: (run.created[i] as Announced).id, parentId }
      parentId = cp.id
      return cp
    })
    // Finishing a checkpoint's step folds its pending writes in; what is left pending goes on the last checkpoint.
    if (from && made.length > 0 && planned.folds) from.pending = undefined
    const last = made.at(-1) ?? from
    if (planned.pending && last) last.pending = planned.pending
    for (const [i, cp] of made.entries()) {
      const announced = run.created[i] as Announced
      // The run's in-memory view, before any read back.
      expect(ordered({ parentId: announced.parentId, next: announced.next, step: announced.metadata.step, values: announced.values })).toStrictEqual(ordered({ parentId: cp.parentId, next: NEXT[cp.stage], step: cp.step, values: cp.values }))
      const snap = await check(graph, cp)
      expect(snap.metadata).toStrictEqual(announced.metadata)
      recorded.set(cp.id, snap)
    }
    model.push(...made)
    if (made.length > 0) head = made.at(-1)
    if (from) await check(graph, from)
  }

  const runFrom = async (from: ModelCheckpoint | undefined, input: unknown, how: { input?: Update; resume?: string; replay?: boolean }) => {
    const planned = plan(from, control.flags, how)
    const run = await recordRun(graph, input, how.replay && from ? { threadId, checkpointId: from.id } : { threadId })
    await afterRun(from, planned, run)
  }

  const update = async (from: ModelCheckpoint, values: Update, asNode: NodeName | undefined) => {
    const at = from === head ? { threadId } : { threadId, checkpointId: from.id }
    // At the head, a step that failed after right finished has right's writes land first, as right did them (as
    // LangGraph.js does); right is then the node that ran last.
    const finished = from === head && from.pending?.kind === 'failure' ? from.pending.right : undefined
    const by: NodeName[] | undefined = finished ? ['right'] : from.by
    // Without asNode the update goes as the node that made `from` (as LangGraph.js does): refused when several did,
    // as the input when none did.
    if (asNode === undefined && (by?.length ?? 0) > 1) {
      await rejectsWith(graph.updateState(at, values), 'INVALID_UPDATE')
      return
    }
    const as = asNode ?? by?.[0]
    const config = await graph.updateState(at, values, asNode)
    const next = apply(finished ? apply(from.values, finished) : from.values, values)
    const stage: Stage = as === undefined ? 'fanout' : as === 'join' ? 'done' : 'join'
    const cp: ModelCheckpoint = {
      id: config.checkpointId,
      parentId: from.id,
      step: from.step + 1,
      source: from === head ? 'update' : 'fork',
      stage,
      arg: as === undefined ? logic.send(next) : undefined,
      by: as === undefined ? undefined : [as],
      values: next,
    }
    recorded.set(cp.id, await check(graph, cp))
    model.push(cp)
    head = cp
  }

  for (const op of ops) {
    control.calls = noCalls()
    control.flags = 'flags' in op ? op.flags : { failLeft: false, ask: false, burst: 1 }
    const picked = 'pick' in op ? (model[op.pick % model.length] as ModelCheckpoint) : undefined
    switch (op.kind) {
      case 'input': {
        const input = op.big && bigEntry !== undefined ? { ...op.input, log: [...(op.input.log ?? []), bigEntry] } : op.input
        await runFrom(head, input, { input })
        break
      }
      case 'continue':
        await runFrom(head, null, {})
        break
      case 'resume':
        if (head?.pending?.kind === 'interrupt') await runFrom(head, new Command({ resume: op.answer }), { resume: op.answer })
        else {
          const before = await dump(adapter, threadId)
          await rejectsWith(graph.invoke(new Command({ resume: op.answer }), { threadId }), 'NO_PENDING_INTERRUPT')
          expect(await dump(adapter, threadId)).toEqual(before)
          expect(control.calls).toEqual(noCalls())
        }
        break
      case 'update':
        await update(head as ModelCheckpoint, op.update, op.asNode)
        break
      case 'fork':
        await update(picked as ModelCheckpoint, op.update, op.asNode)
        await runFrom(head, null, {})
        break
      case 'replay':
        await runFrom(picked, null, { replay: true })
        break
    }
    expect((await graph.getState({ threadId })).config.checkpointId).toBe(head?.id)
  }

  // Everything again, through a graph object that never ran anything.
  const fresh = buildGraph(adapter, { flags: { failLeft: false, ask: false, burst: 1 }, calls: noCalls() })
  const history = await collect(fresh.getStateHistory({ threadId }))
  const ids = history.map((s) => s.config.checkpointId)
  expect(ids).toEqual(model.map((c) => c.id).reverse())
  expect(new Set(ids).size).toBe(ids.length)
  for (const s of history) if (s.metadata.parentId !== undefined) expect(ids).toContain(s.metadata.parentId)
  const times = history.map((s) => Date.parse(s.createdAt))
  expect(times).toEqual([...times].sort((a, b) => b - a))
  for (const [i, snap] of history.entries()) {
    const cp = model[model.length - 1 - i] as ModelCheckpoint
    expect(ordered(project(snap))).toStrictEqual(ordered(expected(cp, threadId, true)))
    const first = recorded.get(cp.id) as StateSnapshot<State>
    expect({ metadata: snap.metadata, createdAt: snap.createdAt }).toStrictEqual({ metadata: first.metadata, createdAt: first.createdAt })
  }
  for (const cp of model) {
    const snap = await check(fresh, cp)
    expect(snap.metadata).toStrictEqual(recorded.get(cp.id)?.metadata)
  }
  expect((await fresh.getState({ threadId })).config.checkpointId).toBe(head?.id)
  // Paging with limit and before, and filtering, select from the same list.
  const paged: StateSnapshot<State>[] = []
  for (let before: string | undefined; ; ) {
    const page = await collect(fresh.getStateHistory({ threadId }, before === undefined ? { limit: 3 } : { limit: 3, before }))
    paged.push(...page)
    if (page.length < 3) break
    before = page.at(-1)?.config.checkpointId
  }
  expect(paged).toStrictEqual(history)
  for (const filter of [{ source: 'fork' }, { source: 'input' }, { step: 1 }]) {
    const matching = history.filter((s) => Object.entries(filter).every(([k, v]) => s.metadata[k] === v))
    expect(await collect(fresh.getStateHistory({ threadId }, { filter }))).toStrictEqual(matching)
    expect(await collect(fresh.getStateHistory({ threadId }, { filter, limit: 2 }))).toStrictEqual(matching.slice(0, 2))
  }
  // Pending writes are stored exactly for the checkpoints that still have some.
  const withPending = new Set((await keysOf(adapter, threadId, { from: 'w/', to: 'w0' })).map((k) => k.split('/')[1]))
  expect([...withPending].sort()).toEqual(model.filter((c) => c.pending).map((c) => c.id))
  for await (const [key, value] of adapter.scan(threadId)) expect({ key, fits: value.length <= adapter.limits.maxValueBytes }).toMatchObject({ fits: true })
}

/**
 * A guard against a hung run, not a speed check: in workerd a D1 run of the 100 cases took 25 s alone and 45 s
 * beside the Durable Object suite on 2 cores, and over 60 s while other test runs shared those cores.
 */
const PROPERTY_TIMEOUT = 180_000

export function randomHistoryTests(options: ConformanceOptions, test: Test): void {
  describe('random graph histories (fast-check)', () => {
    test('random runs, interrupts, failures, updates, forks and replays read back exactly on a fresh graph', async () => {
      // On failure fast-check prints the seed and path; pass them to fc.assert to replay the case.
      await fc.assert(
        fc.asyncProperty(historyArb, async (ops) => play(await options.create(), ops, undefined)),
        { numRuns: runsOf(options, 100) },
      )
    }, PROPERTY_TIMEOUT)

    test('random histories with values above maxValueBytes read back exactly on a fresh graph', async () => {
      const probe = await (options.createSmall ?? options.create)()
      const max = probe.limits.maxValueBytes
      // Only worth it (and only fast) with a small limit: with a multi-megabyte one this repeats the test above.
      const bigEntry = max <= 64 * 1024 ? `big:${'aé€𝄞'.repeat(Math.ceil((1.5 * max) / 10))}` : undefined
      await fc.assert(
        fc.asyncProperty(historyArb, async (ops) => play(await (options.createSmall ?? options.create)(), ops, bigEntry)),
        { numRuns: runsOf(options, 50) },
      )
    }, PROPERTY_TIMEOUT)
  })
}
