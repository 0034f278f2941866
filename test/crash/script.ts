/**
 * @module The crash matrix's scenario (issue 13), runtime-neutral so the same matrix runs in Node (memory adapter), in a
 * Chromium page (IndexedDB) and in workerd (Durable Object): no node: imports, no vitest, the adapter comes in as a
 * parameter. A graph with Send fan-out, an interrupt, a node that fails once, a fork and packs; a script of operations
 * on one thread; {@link runCrashPoint} crashes the script at one adapter call, then recovers as a fresh process would.
 */
import { Command, END, Send, START, StateGraph, isEdgegraphError, type Durability } from '../../src/index.js'
import type { StorageAdapter } from '../../src/checkpoint/adapter.js'
import { crashing, type CrashPoint } from './faults.js'

export const durabilities = ['sync', 'async', 'exit'] as const satisfies readonly Durability[]

const appendList = { default: (): string[] => [], reducer: (a: string[], b: string[]) => [...a, ...b] }

/** A checkpoint as comparable data: no ids or times; its step, source, values, next and its parent's step. */
export interface Shaped {
  step: number
  source: string
  values: unknown
  next: string[]
  parentStep: number | undefined
}

/**
 * The graph and script on thread `thread`, for one durability mode. `failures` remembers, per thread and state, that
 * the flaky node failed already: it is the outside world, so it survives a crash (share one scenario per run).
 */
export function scenario(durability: Durability, thread = 'crash', failures = new Set<string>()) {
  /** Fans out to three workers, joins, asks a human, then a flaky node fails once per thread. */
  const graph = (store: StorageAdapter) =>
    new StateGraph({ log: appendList, items: { default: (): number[] => [] } })
      .addNode('plan', (s) => ({ log: [`plan ${s.log.length}`] }))
      .addNode('work', (input) => ({ log: [`work ${(input as unknown as { i: number }).i}`] }))
      .addNode('review', (_s, ctx) => ({ log: [`review ${ctx.interrupt<string>('ok?')}`] }))
      .addNode('flaky', (s, ctx) => {
        const key = `${ctx.threadId}:${s.log.length}`
        if (!failures.has(key)) {
          failures.add(key)
          throw new Error('flaky once')
        }
        return { log: ['flaky done'] }
      })
      .addEdge(START, 'plan')
      .addConditionalEdges('plan', () => [0, 1, 2].map((i) => new Send('work', { i })), ['work'])
      .addEdge('work', 'review')
      .addEdge('review', 'flaky')
      .addEdge('flaky', END)
      .compile({ checkpointer: { adapter: store, packSize: 2, snapshotFactor: 1000 }, durability })

  type G = ReturnType<typeof graph>

  const state = (g: G) => g.getState({ threadId: thread }).catch((err: unknown) => (isEdgegraphError(err, 'THREAD_NOT_FOUND') ? undefined : Promise.reject(err)))

  /** The script: a turn (to the interrupt), its answer (the flaky node fails once), continue, a fork, a second turn. */
  const script: { name: string; run: (g: G) => Promise<unknown>; done: (g: G, before: string | undefined) => Promise<boolean> }[] = [
    { name: 'turn 1', run: (g) => g.invoke({ log: ['hi'] }, { threadId: thread }), done: async (g) => (await state(g))?.interrupts.length === 1 },
    { name: 'answer', run: (g) => g.invoke(new Command({ resume: 'yes' }), { threadId: thread }), done: async (g) => ((await state(g))?.values.log ?? []).includes('review yes') },
    {
      name: 'continue',
      // Continues until the run is done: the flaky node may fail here (once) if a crash kept it from failing before.
      run: async (g) => {
        for (let i = 0; ; i++) {
          try {
            return await g.invoke(null, { threadId: thread })
          } catch (err) {
            if (i > 0 || !isEdgegraphError(err, 'NODE_FAILED')) throw err
          }
        }
      },
      done: async (g) => ((await state(g))?.next ?? ['x']).length === 0,
    },
    {
      name: 'fork',
      run: async (g) => {
        let plan: string | undefined
        for await (const s of g.getStateHistory({ threadId: thread })) if ((s.metadata.writes as Record<string, unknown>)?.plan) plan = s.config.checkpointId
        return g.updateState({ threadId: thread, checkpointId: plan as string }, { log: ['forked'] }, 'plan')
      },
      done: async (g, before) => (await state(g))?.config.checkpointId !== before,
    },
    { name: 'after fork', run: (g) => g.invoke(null, { threadId: thread }), done: async (g) => (await state(g))?.interrupts.length === 1 },
  ]

  /** Runs the script from operation `from`, each operation once; NODE_FAILED is expected once and followed by the next operation. */
  async function play(makeGraph: () => G, from = 0): Promise<void> {
    for (let i = from; i < script.length; i++) {
      const op = script[i] as (typeof script)[number]
      try {
        await op.run(makeGraph())
      } catch (err) {
        if (!isEdgegraphError(err, 'NODE_FAILED')) throw err
      }
    }
  }

  /** The thread's history as comparable data ({@link Shaped}), oldest first. */
  async function shape(store: StorageAdapter): Promise<Shaped[]> {
    const g = graph(store)
    const all: { id: string; parent: string | undefined; step: number; source: string; values: unknown; next: string[] }[] = []
    for await (const s of g.getStateHistory({ threadId: thread })) all.push({ id: s.config.checkpointId, parent: s.parentConfig?.checkpointId, step: s.metadata.step, source: s.metadata.source, values: s.values, next: s.next })
    const byId = new Map(all.map((c) => [c.id, c]))
    return all.map(({ id: _id, parent, ...rest }) => ({ ...rest, parentStep: parent === undefined ? undefined : byId.get(parent)?.step })).reverse()
  }

  return { durability, thread, failures, graph, state, script, play, shape }
}

export type Scenario = ReturnType<typeof scenario>

/** Keys of `thread` that no checkpoint reads: loose pending writes of finished steps, orphan chunks (any adapter, by scan). */
export async function orphans(store: StorageAdapter, thread = 'crash'): Promise<string[]> {
  const keys = new Set<string>()
  for await (const [key] of store.scan(thread, {})) keys.add(key)
  return [...keys].filter((k) => k.startsWith('k/') && !keys.has(k.slice(2, k.lastIndexOf('/'))))
}

/** The uninterrupted run on `store` (empty): its history, and how many adapter calls it made (each one is two crash points). */
export async function reference(store: StorageAdapter, durability: Durability, thread = 'crash'): Promise<{ history: Shaped[]; calls: number }> {
  const s = scenario(durability, thread)
  const counter = crashing(store, Number.POSITIVE_INFINITY, 'before')
  await s.play(() => s.graph(counter.adapter))
  return { history: await s.shape(store), calls: counter.calls() }
}

/** Every crash point of a script making `calls` adapter calls, in order: call 0 before, call 0 after, call 1 before... */
export function allPoints(calls: number): CrashPoint[] {
  const out: CrashPoint[] = []
  for (let at = 0; at < calls; at++) for (const when of ['before', 'after'] as const) out.push({ at, when })
  return out
}

/**
 * About `count` crash points spread over the whole script, the same for the same `seed`: the points (in order) are cut
 * into `count` equal strata and one is drawn from each, so before and after both show up and no stretch is skipped.
 * The first and the last point are always in.
 */
export function samplePoints(calls: number, count: number, seed: number): CrashPoint[] {
  const all = allPoints(calls)
  if (count >= all.length) return all
  let a = seed >>> 0
  const random = () => {
    // mulberry32
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const picked = new Set<number>([0, all.length - 1])
  for (let i = 0; i < count; i++) {
    const lo = Math.floor((i * all.length) / count)
    const hi = Math.floor(((i + 1) * all.length) / count)
    picked.add(lo + Math.floor(random() * (hi - lo)))
  }
  return [...picked].sort((x, y) => x - y).map((i) => all[i] as CrashPoint)
}

/** Where the crashed process left off: all a recovering process may know (plain data, so it can cross a restart). */
export interface Crashed {
  point: CrashPoint
  /** The operation the crash hit (its index in the script; `script.length` if the script ran through). */
  crashedAt: number
  /** The head checkpoint before that operation started (what the user last saw). */
  headBefore: string | undefined
  /** The flaky node's failures so far (the outside world's memory, which a crash does not erase). */
  failures: string[]
}

/** What one crash point left, after recovery and the rest of the script. */
export interface PointOutcome extends Crashed {
  /** `crash before call 7 in "answer"`: for assertion messages. */
  where: string
  /** Whether the interrupted operation was found done or was finished by the recovering process. */
  landed: boolean
  /** The history at the end, read by a fresh process. */
  history: Shaped[]
  /** Keys no checkpoint reads, at the end. */
  orphans: string[]
}

/** Plays the script on `store` (empty) through a wrapper that crashes at `point`; stops at the crash. */
export async function crashRun(store: StorageAdapter, durability: Durability, point: CrashPoint, thread = 'crash'): Promise<Crashed> {
  const s = scenario(durability, thread)
  const { script } = s
  const crash = crashing(store, point.at, point.when)
  let crashedAt = script.length
  let headBefore: string | undefined
  for (let i = 0; i < script.length; i++) {
    const op = script[i] as (typeof script)[number]
    headBefore = (await s.state(s.graph(store)))?.config.checkpointId
    try {
      await op.run(s.graph(crash.adapter))
    } catch (err) {
      if (crash.crashed()) {
        crashedAt = i
        break
      }
      if (!isEdgegraphError(err, 'NODE_FAILED')) throw err
    }
  }
  return { point, crashedAt, headBefore, failures: [...s.failures] }
}

/**
 * A fresh process on `store` after {@link crashRun}: finds out where the thread stands (getState), finishes the
 * interrupted operation (a failed node's retry, the rest of a run, or the operation again) and plays the rest of the
 * script. Throws if recovery fails with anything but the flaky node's expected failure.
 */
export async function recover(store: StorageAdapter, durability: Durability, crashed: Crashed, thread = 'crash'): Promise<PointOutcome> {
  const { point, crashedAt, headBefore } = crashed
  const s = scenario(durability, thread, new Set(crashed.failures))
  const { script } = s
  const fresh = () => s.graph(store)
  const where = `crash ${point.when} call ${point.at} in "${script[crashedAt]?.name ?? 'none'}"`
  let landed = true
  if (crashedAt < script.length) {
    const op = script[crashedAt] as (typeof script)[number]
    landed = await op.done(fresh(), headBefore)
    // Unfinished work of the operation: continue it (a failed node's retry, the rest of a run).
    for (let tries = 0; !landed && tries < 3; tries++) {
      const st = await s.state(fresh())
      const started = st !== undefined && st.config.checkpointId !== headBefore
      try {
        if (started && st.next.length > 0 && st.interrupts.length === 0) await fresh().invoke(null, { threadId: thread })
        else await op.run(fresh())
      } catch (err) {
        if (!isEdgegraphError(err, 'NODE_FAILED')) throw new Error(`${where}: recovery failed: ${(err as Error).message}`, { cause: err })
      }
      landed = await op.done(fresh(), headBefore)
    }
    if (landed) await s.play(fresh, crashedAt + 1)
  }
  return { ...crashed, failures: [...s.failures], where, landed, history: await s.shape(store), orphans: await orphans(store, thread) }
}

export interface CrashPointOptions {
  durability: Durability
  point: CrashPoint
  /**
   * Opens the store: called once for the process that crashes and once for the fresh process that recovers (a
   * reloaded tab, a restarted object). Both must see the same, initially empty, thread. For an in-memory store return
   * the same adapter; for IndexedDB a new adapter on the same database.
   */
  open: () => StorageAdapter | Promise<StorageAdapter>
  /** Called with the crashed process's adapter once it is abandoned (e.g. to close its connection). */
  abandon?: (store: StorageAdapter) => void | Promise<void>
  thread?: string
}

/** {@link crashRun} on one opened store, then {@link recover} on another opened on the same data. */
export async function runCrashPoint({ durability, point, open, abandon, thread = 'crash' }: CrashPointOptions): Promise<PointOutcome> {
  const store = await open()
  const crashed = await crashRun(store, durability, point, thread)
  await abandon?.(store)
  return recover(await open(), durability, crashed, thread)
}

/** A checkpoint without its parent link: what must match at the end of an 'exit' run. */
export const endOf = (c: Shaped | undefined) => c && { step: c.step, source: c.source, values: c.values, next: c.next }

/**
 * What must hold after a crash point, as pairs to compare (got, want) with a label; runtime-neutral so each test
 * asserts them with its own `expect`. With 'sync' and 'async' the whole history equals the uninterrupted run's. With
 * 'exit' nothing is stored until a run ends, so which intermediate checkpoints exist depends on where the flaky node
 * failed, and a crash can take that failure with it: the end state must be the same, and no checkpoint stored twice.
 */
export function expectations(expected: Shaped[], outcome: PointOutcome, durability: Durability): { label: string; got: unknown; want: unknown }[] {
  const { where, history } = outcome
  const out: { label: string; got: unknown; want: unknown }[] = [{ label: `${where}: the interrupted operation lands`, got: outcome.landed, want: true }]
  if (durability === 'exit') {
    out.push({ label: `${where}: end state`, got: endOf(history.at(-1)), want: endOf(expected.at(-1)) })
    const seen = history.map((c) => JSON.stringify(endOf(c)))
    out.push({ label: `${where}: a checkpoint stored twice`, got: seen.filter((c, i) => seen.indexOf(c) !== i), want: [] })
  } else {
    out.push({ label: `${where}: history`, got: history, want: expected })
  }
  out.push({ label: `${where}: orphans`, got: outcome.orphans, want: [] })
  return out
}
