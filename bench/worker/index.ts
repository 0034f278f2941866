/**
 * @module The bench Worker. One Durable Object per case and repetition runs a bench workload: edgegraph on the
 * object's own SQLite storage or on D1, or LangGraph.js + MemorySaver, warm-up first, then the timed invoke, the
 * platform floor, getState and the full history, each as its own request so the driver (bench/worker.ts) can time it
 * from outside.
 *
 * A classic fetch-based Durable Object with the bindings typed by the parts used here, so this file type-checks
 * under the root tsconfig (DOM lib) without Cloudflare's Workers types, which clash with it.
 */
import type { StorageAdapter } from '../../src/index.js'
import { createDurableObjectAdapter } from '../../adapters/durable-object.js'
import { createD1Adapter } from '../../adapters/d1.js'
import { createMemoryAdapter } from '../../adapters/memory.js'
import { benchGraph } from '../engines/edgegraph.js'
import { langgraphSubject } from '../engines/langgraph.js'
import type { Subject, SubjectOptions } from '../engines/subject.js'
import { median, percentile } from '../common.js'
import { checkFinal, checkHistory, messagesFor, progress } from '../workloads.js'
import { countingAdapter, countingD1, countingDurableObjectStorage, countMemorySaver, emptyTally, type D1Binding, type DurableObjectStorageBinding, type Tally } from './instrument.js'
import { READS, type Action, type CaseSpec, type Durability, type FloorSpec, type ReadReply, type RunReply, type SetupReply, type StoredReply } from './protocol.js'

const THREAD = 'bench'

/** The bindings of bench/worker/wrangler.jsonc. */
interface Env {
  BENCH: { idFromName(name: string): unknown; get(id: unknown): { fetch(request: Request): Promise<Response> } }
  DB: D1Binding
}

const ACTIONS: readonly Action[] = ['ping', 'setup', 'run', 'floor', 'getState', 'history', 'stored', 'release']

/** The case a bench object holds between requests. */
interface Active {
  spec: CaseSpec
  messages: string[]
  subject: Subject
  tally: Tally
  /** Keys + values the timed thread holds. */
  storedBytes(): Promise<number>
  /** Stops counting (LangGraph's prototype hook). */
  release(): void
}

/** edgegraph's bench graphs (bench/engines/edgegraph.ts) over any adapter. */
function edgegraphOn(store: StorageAdapter, name: string, durability: Durability, { workload, n, messages, onStep }: SubjectOptions): Subject {
  const compile = () => benchGraph(workload, n, store, (i) => messages[i] as string, onStep)
  const input = workload === 'counter' ? { count: 0 } : { messages: [] }
  return {
    store: name,
    run: (threadId) => compile().invoke(input, { threadId, recursionLimit: n + 10, durability }),
    getState: async (threadId) => (await compile().getState({ threadId })).values,
    async history(threadId) {
      const seen: number[] = []
      for await (const snap of compile().getStateHistory({ threadId })) seen.push(progress(workload, snap.values))
      return seen
    },
    bytesStored: () => Number.NaN, // asynchronous here: see Active.storedBytes
  }
}

async function scanBytes(adapter: StorageAdapter, thread: string): Promise<number> {
  let total = 0
  for await (const [key, value] of adapter.scan(thread)) total += key.length + value.byteLength
  return total
}

export class BenchObject {
  #active: Active | undefined
  readonly #storage: DurableObjectStorageBinding
  readonly #env: Env

  constructor(state: { storage: DurableObjectStorageBinding }, env: Env) {
    this.#storage = state.storage
    this.#env = env
  }

  async fetch(request: Request): Promise<Response> {
    const action = ACTIONS.find((a) => `/${a}` === new URL(request.url).pathname)
    try {
      const reply =
        action === 'ping' ? this.ping()
        : action === 'setup' ? await this.setup((await request.json()) as CaseSpec)
        : action === 'run' ? await this.run()
        : action === 'floor' ? await this.floor((await request.json()) as FloorSpec)
        : action === 'getState' ? await this.getState()
        : action === 'history' ? await this.history()
        : action === 'stored' ? await this.stored()
        : action === 'release' ? this.release()
        : undefined
      return action ? Response.json(reply ?? null) : new Response(`unknown action ${request.url}`, { status: 404 })
    } catch (err) {
      return new Response(err instanceof Error ? (err.stack ?? err.message) : String(err), { status: 500 })
    }
  }

  ping(): string {
    return 'pong'
  }

  /**
   * Builds the case's subject and runs the two warm-up runs (like bench/case.ts), then drops their threads. Replies
   * with the bytes the warm-up wrote per step, which size the floor measured before the run.
   */
  async setup(spec: CaseSpec): Promise<SetupReply> {
    this.release()
    const messages = messagesFor(spec.workload, Math.max(spec.n, spec.warmupSteps))
    const tally = emptyTally()
    let make: (o: SubjectOptions) => Subject
    let adapter: StorageAdapter | undefined
    let release = () => {}
    if (spec.store === 'memorysaver') {
      make = langgraphSubject
      release = countMemorySaver(tally)
    } else {
      const raw =
        spec.store === 'do-sqlite' ? createDurableObjectAdapter(countingDurableObjectStorage(this.#storage, tally))
        : spec.store === 'd1' ? createD1Adapter(countingD1(this.#env.DB, tally), { table: spec.table })
        : createMemoryAdapter()
      const counted = countingAdapter(raw, tally)
      adapter = counted
      make = (o) => edgegraphOn(counted, spec.store, spec.durability, o)
    }
    const onStep = () => {}
    for (const round of [1, 2]) {
      const warm = make({ workload: spec.workload, n: spec.warmupSteps, messages, onStep })
      const thread = `warmup-${round}`
      checkFinal(spec.workload, spec.warmupSteps, messages, await warm.run(thread), `${spec.store} warm-up`)
      await warm.getState(thread)
      await warm.history(thread)
      await adapter?.deleteThread(thread)
    }
    const bytesPerStep = tally.bytesWritten / (2 * spec.warmupSteps)
    this.#active = {
      spec,
      messages,
      tally,
      subject: make({ workload: spec.workload, n: spec.n, messages, onStep: () => this.#stamps.push(performance.now()) }),
      storedBytes: async () => (adapter ? scanBytes(adapter, THREAD) : this.#activeOrThrow().subject.bytesStored()),
      release,
    }
    return { bytesPerStep }
  }

  #stamps: number[] = []

  #activeOrThrow(): Active {
    if (!this.#active) throw new Error('bench object: no case set up (call setup first)')
    return this.#active
  }

  /** The timed invoke. */
  async run(): Promise<RunReply> {
    const { spec, messages, subject, tally } = this.#activeOrThrow()
    Object.assign(tally, emptyTally())
    this.#stamps = []
    const t0 = performance.now()
    const final = await subject.run(THREAD)
    const clockRunMs = performance.now() - t0
    checkFinal(spec.workload, spec.n, messages, final, `${spec.store} invoke`)
    const stamps = this.#stamps
    if (stamps.length !== spec.n) throw new Error(`${spec.store}: node ran ${stamps.length} times, expected ${spec.n}`)
    const gaps = stamps.slice(1).map((t, i) => (t - (stamps[i] as number)) * 1000)
    const gapsMs = gaps.map((us) => us / 1000)
    return {
      clockUsPerStep: median(gaps),
      clockUsPerStepMean: gaps.reduce((a, b) => a + b, 0) / Math.max(1, gaps.length),
      clockGapP99Ms: percentile(gapsMs, 99),
      clockGapMaxMs: Math.max(0, ...gapsMs),
      slowSteps: gapsMs.filter((ms) => ms >= 2).length,
      clockRunMs,
      ...tally,
    }
  }

  /**
   * The platform floor (see FloorSpec): `n` bare inserts of `bytes` each into a fresh table, nothing else. Keys are
   * new each time, as a checkpoint's are; key and value together are the warm-up's bytes per step.
   */
  async floor({ kind, n, bytes, table }: FloorSpec): Promise<{ rows: number }> {
    const name = `floor_${table}_${kind}`
    const create = `CREATE TABLE IF NOT EXISTS ${name} (thread TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (thread, key)) WITHOUT ROWID`
    const insert = `INSERT INTO ${name} (thread, key, value) VALUES (?, ?, ?)`
    const key = (i: number) => `f/${String(1e6 + i)}`
    const value = new Uint8Array(Math.max(1, bytes - key(0).length)).fill(0x61)
    if (kind === 'd1') {
      const db = this.#env.DB
      await db.batch([db.prepare(create)])
      for (let i = 0; i < n; i++) await db.batch([db.prepare(insert).bind('floor', key(i), value.slice().buffer)])
      return { rows: n }
    }
    const sql = this.#storage.sql
    sql.exec(create)
    if (kind === 'tx') for (let i = 0; i < n; i++) this.#storage.transactionSync(() => sql.exec(insert, 'floor', key(i), value.slice().buffer))
    else for (let i = 0; i < n; i++) sql.exec(insert, 'floor', key(i), value.slice().buffer)
    return { rows: n }
  }

  /** READS.getState reads of the newest state, each on a freshly compiled graph; checks the last. */
  async getState(): Promise<ReadReply> {
    const { spec, messages, subject } = this.#activeOrThrow()
    const t0 = performance.now()
    let values: Record<string, unknown> = {}
    for (let i = 0; i < READS.getState; i++) values = await subject.getState(THREAD)
    const clockMs = (performance.now() - t0) / READS.getState
    checkFinal(spec.workload, spec.n, messages, values, `${spec.store} getState`)
    return { clockMs, checkpoints: 0 }
  }

  /** READS.history full history reads, each on a freshly compiled graph; checks the last. */
  async history(): Promise<ReadReply> {
    const { spec, subject } = this.#activeOrThrow()
    const t0 = performance.now()
    let seen: number[] = []
    for (let i = 0; i < READS.history; i++) seen = await subject.history(THREAD)
    const clockMs = (performance.now() - t0) / READS.history
    checkHistory(spec.n, seen, `${spec.store} getStateHistory`)
    return { clockMs, checkpoints: seen.length }
  }

  async stored(): Promise<StoredReply> {
    return { bytesStored: await this.#activeOrThrow().storedBytes() }
  }

  /** Forgets the case so its memory (LangGraph's ~1 GB at chat n=2000) goes before the next one. */
  release(): void {
    this.#active?.release()
    this.#active = undefined
  }
}

export default {
  /** `POST /<action>?object=<name>` goes to the Durable Object of that name. */
  async fetch(request: Request, env: Env): Promise<Response> {
    const object = new URL(request.url).searchParams.get('object')
    if (!object) return new Response(`POST /<${ACTIONS.join('|')}>?object=<name>`, { status: 404 })
    return env.BENCH.get(env.BENCH.idFromName(object)).fetch(request)
  },
}
