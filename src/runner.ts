/**
 * @module `edgegraph/runner`: runs threads of a graph from a queue, in as many processes as you start, against one
 * shared store (PostgreSQL, Redis, SQLite, or any adapter). A thread is run by one process at a time: a process claims a
 * thread's job with a lease (a compare-and-set on the job's record), renews it while it runs, and a process that dies
 * stops renewing: once the lease expires another process claims the job and continues the thread from its last
 * checkpoint with `invoke(null)`. The thread's own head guard (and `lockThread`, where the adapter has it, e.g.
 * PostgreSQL's advisory locks) keeps a process whose lease ran out meanwhile from writing over the new owner.
 *
 * Jobs live in the queue store under the thread `.runner/<name>`, one record per graph thread (`j/<thread id>`).
 */
import type { StorageAdapter } from './checkpoint/adapter.js'
import { decodeValue, encodeValue } from './checkpoint/serde.js'
import { openText, sealText } from './checkpoint/storage.js'
import { EdgegraphError, isEdgegraphError } from './errors.js'

/** The part of a compiled graph the runner drives. */
export interface RunnableGraph {
  invoke(input: never, config: { threadId: string; signal?: AbortSignal; ifBusy?: 'wait' | 'fail'; recursionLimit?: number }): Promise<Record<string, unknown>>
  getState(config: { threadId: string }): Promise<{ config: { checkpointId: string }; next: string[]; interrupts: unknown[] }>
}

/** Options of {@link createRunner}. */
export interface RunnerOptions {
  /** The compiled graph, with a checkpointer every process shares (the same database). */
  graph: RunnableGraph
  /** Where the jobs are kept: an adapter on the same shared database (it may be the graph's own). */
  queue: StorageAdapter
  /** The queue's name, when several graphs share one store. Default `'default'`. */
  name?: string
  /** How long a claim lasts without renewal, in ms. A process killed mid-run has its threads taken over after it. Default 30 s. */
  leaseMs?: number
  /** Threads this process runs at once. Default 1. */
  concurrency?: number
  /** How often an idle process looks for work, in ms. Default 250. */
  pollMs?: number
  /** Attempts at a thread whose node keeps failing (`NODE_FAILED`) before its job is marked failed. Default 3. */
  maxAttempts?: number
  /** `recursionLimit` of each run. */
  recursionLimit?: number
  /** This process's name in job records. Default: random. */
  owner?: string
  /** Called when a job ends (done, waiting on an interrupt, failed) or is taken over; for logs and metrics. */
  onEvent?: (event: RunnerEvent) => void
}

/** What happened to a job. */
export type RunnerEvent =
  | { type: 'done'; threadId: string; owner: string; interrupted: boolean }
  | { type: 'failed'; threadId: string; owner: string; error: string }
  | { type: 'claimed'; threadId: string; owner: string; takeover: boolean }
  | { type: 'released'; threadId: string; owner: string; reason: string }

/** A job as {@link Runner.jobs} lists it. */
export interface JobInfo {
  threadId: string
  status: 'queued' | 'running' | 'done' | 'waiting' | 'failed'
  owner: string | undefined
  /** Claims so far (a takeover after a crash is a new claim). */
  claims: number
  error: string | undefined
}

/** A process's runner; see {@link createRunner}. */
export interface Runner {
  readonly owner: string
  /**
   * Queues a run of `threadId`: `input` as `invoke(input)` would take it, or `null` to continue the thread. Refused
   * with `THREAD_BUSY` while an earlier job of the thread is queued or running.
   */
  enqueue(threadId: string, input: unknown): Promise<void>
  /** Starts claiming and running jobs. */
  start(): void
  /** Stops claiming; resolves once the runs in progress have ended (their jobs are done or handed back). */
  stop(): Promise<void>
  /** Every job of the queue. */
  jobs(): Promise<JobInfo[]>
}

interface JobRecord {
  s: JobInfo['status']
  /** The input, encoded (absent: continue the thread). */
  in?: unknown
  /** The thread's head when the job was queued: a later head means the input is already stored. */
  h0?: string
  o?: string
  /** Claimable after this time (ms): the lease of a running job, a back-off for a queued one. */
  l: number
  c: number
  e?: string
}

const text = new TextDecoder()

/**
 * Creates this process's runner for a graph's queue. Start one in each process (`runner.start()`); queue runs from
 * anywhere with `runner.enqueue(threadId, input)`.
 *
 * @example
 * const pool = new pg.Pool({ connectionString })
 * const store = createPostgresAdapter(pool)
 * const runner = createRunner({ graph: builder.compile({ checkpointer: store }), queue: store, concurrency: 4 })
 * runner.start()
 * await runner.enqueue('ticket-42', { messages: [question] })
 */
export function createRunner(options: RunnerOptions): Runner {
  const { graph, queue } = options ?? ({} as RunnerOptions)
  if (typeof graph?.invoke !== 'function' || typeof queue?.commit !== 'function') {
    throw new EdgegraphError('INVALID_ARGUMENT', 'createRunner needs { graph, queue }: a compiled graph with a checkpointer, and a storage adapter for the jobs (the same database)')
  }
  const name = options.name ?? 'default'
  if (!/^[\w.-]{1,64}$/.test(name)) throw new EdgegraphError('INVALID_ARGUMENT', 'createRunner: name must be 1-64 letters, digits, "_", "." or "-"')
  const leaseMs = positive(options.leaseMs, 30_000, 'leaseMs')
  const concurrency = positive(options.concurrency, 1, 'concurrency')
  const pollMs = positive(options.pollMs, 250, 'pollMs')
  const maxAttempts = positive(options.maxAttempts, 3, 'maxAttempts')
  const owner = options.owner ?? `runner-${crypto.randomUUID().slice(0, 8)}`
  const thread = `.runner/${name}`
  const emit = (e: RunnerEvent) => options.onEvent?.(e)
  let running = false
  let slots: Promise<void>[] = []
  const wakers = new Set<() => void>()
  const wake = () => {
    for (const w of wakers) w()
  }

  const keyOf = (threadId: string) => `j/${encodeURIComponent(threadId)}`

  async function read(key: string): Promise<{ raw: Uint8Array; job: JobRecord } | undefined> {
    const [raw] = await queue.get(thread, [key])
    return raw === undefined ? undefined : { raw, job: parse(raw) }
  }

  /** Replaces the job at `key` if it still holds `expect`; false when another process changed it first. */
  async function swap(key: string, expect: Uint8Array | undefined, job: JobRecord): Promise<Uint8Array | false> {
    const raw = sealText(JSON.stringify(job))
    try {
      await queue.commit(thread, { put: [[key, raw]] }, { key, expect })
      return raw
    } catch (err) {
      if (isEdgegraphError(err, 'CONFLICT')) return false
      throw err
    }
  }

  async function headOf(threadId: string): Promise<string | undefined> {
    try {
      return (await graph.getState({ threadId })).config.checkpointId
    } catch (err) {
      if (isEdgegraphError(err, 'THREAD_NOT_FOUND')) return undefined
      throw err
    }
  }

  /** Claims the first claimable job, starting at a random one so processes spread out. */
  async function claim(): Promise<{ key: string; raw: Uint8Array; job: JobRecord; threadId: string } | undefined> {
    const found: [string, Uint8Array][] = []
    for await (const entry of queue.scan(thread, { from: 'j/', to: 'j0' })) found.push(entry)
    const start = Math.floor(Math.random() * found.length)
    for (let i = 0; i < found.length; i++) {
      const [key, raw] = found[(start + i) % found.length] as [string, Uint8Array]
      const job = parse(raw)
      if ((job.s !== 'queued' && job.s !== 'running') || job.l > Date.now()) continue
      const claimed: JobRecord = { ...job, s: 'running', o: owner, l: Date.now() + leaseMs, c: job.c + 1 }
      const stored = await swap(key, raw, claimed)
      if (!stored) continue
      const threadId = decodeURIComponent(key.slice(2))
      emit({ type: 'claimed', threadId, owner, takeover: job.s === 'running' })
      return { key, raw: stored, job: claimed, threadId }
    }
    return undefined
  }

  async function run(claimed: { key: string; raw: Uint8Array; job: JobRecord; threadId: string }): Promise<void> {
    const { key, threadId } = claimed
    let raw = claimed.raw
    let job = claimed.job
    const lost = new AbortController()
    // Renew the lease while the run goes on; a renewal that finds the record changed means another process took
    // the job over (this one was too slow): stop at the next step boundary, the thread's head guard does the rest.
    let renewing = Promise.resolve()
    const timer = setInterval(() => {
      renewing = renewing.then(async () => {
        if (lost.signal.aborted) return
        const next = await swap(key, raw, { ...job, l: Date.now() + leaseMs }).catch(() => undefined)
        if (next === false) lost.abort(new EdgegraphError('ABORTED', `thread "${threadId}": another runner took the job over`))
        else if (next) {
          raw = next
          job = parse(next)
        }
      })
    }, Math.max(1, Math.floor(leaseMs / 3)))
    // Node: a renewal timer alone does not keep the process alive.
    ;(timer as { unref?: () => void }).unref?.()
    const settle = async (next: JobRecord, event: RunnerEvent) => {
      clearInterval(timer)
      await renewing
      if (lost.signal.aborted) return
      if ((await swap(key, raw, next).catch(() => false)) !== false) emit(event)
    }
    try {
      // The input is stored by the run's first commit: if the head moved since the job was queued, a run that held
      // this job before got that far, so this one continues instead of giving the input again.
      const input = job.in !== undefined && (await headOf(threadId)) === job.h0 ? decodeValue(job.in) : null
      await graph.invoke(input as never, { threadId, signal: lost.signal, ifBusy: 'fail', ...(options.recursionLimit ? { recursionLimit: options.recursionLimit } : {}) })
      const state = await graph.getState({ threadId })
      const interrupted = state.interrupts.length > 0
      await settle({ s: interrupted ? 'waiting' : 'done', l: 0, c: job.c, o: owner }, { type: 'done', threadId, owner, interrupted })
    } catch (err) {
      const why = (err as Error)?.message ?? String(err)
      if (isEdgegraphError(err, 'NODE_FAILED') && job.c < maxAttempts) {
        await settle({ ...job, s: 'queued', l: Date.now() + pollMs }, { type: 'released', threadId, owner, reason: `a node failed (attempt ${job.c} of ${maxAttempts}): ${why}` })
      } else if (isEdgegraphError(err, 'NODE_FAILED') || isEdgegraphError(err, 'RECURSION_LIMIT') || isEdgegraphError(err, 'INVALID_ARGUMENT')) {
        await settle({ s: 'failed', l: 0, c: job.c, o: owner, e: why }, { type: 'failed', threadId, owner, error: why })
      } else {
        // Busy (another holder of the thread's lock), a conflict, the store unreachable: hand the job back; if even
        // that fails, the lease runs out and another process takes it.
        await settle({ ...job, s: 'queued', l: Date.now() + pollMs }, { type: 'released', threadId, owner, reason: why })
      }
    } finally {
      clearInterval(timer)
    }
  }

  async function slot(): Promise<void> {
    while (running) {
      let claimed: Awaited<ReturnType<typeof claim>>
      try {
        claimed = await claim()
      } catch {
        claimed = undefined // the store is unreachable: try again after a pause
      }
      if (claimed) await run(claimed)
      else {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(t)
            wakers.delete(done)
            resolve()
          }
          const t = setTimeout(done, pollMs)
          wakers.add(done)
        })
      }
    }
  }

  return {
    owner,
    async enqueue(threadId, input) {
      if (typeof threadId !== 'string' || threadId === '') throw new EdgegraphError('INVALID_ARGUMENT', 'runner.enqueue(threadId, input) needs a thread id (a non-empty string)')
      const key = keyOf(threadId)
      const old = await read(key)
      if (old && (old.job.s === 'queued' || old.job.s === 'running')) {
        throw new EdgegraphError('THREAD_BUSY', `runner.enqueue: thread "${threadId}" already has a ${old.job.s} job; wait for it to end`, { context: { threadId } })
      }
      const h0 = await headOf(threadId)
      const job: JobRecord = { s: 'queued', l: 0, c: 0, ...(input === null || input === undefined ? {} : { in: encodeValue(input, { channel: 'input', path: [] }) }), ...(h0 ? { h0 } : {}) }
      if ((await swap(key, old?.raw, job)) === false) throw new EdgegraphError('THREAD_BUSY', `runner.enqueue: thread "${threadId}" was queued by another process at the same time`, { context: { threadId } })
      wake()
    },
    start() {
      if (running) return
      running = true
      slots = Array.from({ length: concurrency }, () => slot())
    },
    async stop() {
      running = false
      wake()
      await Promise.all(slots)
    },
    async jobs() {
      const out: JobInfo[] = []
      for await (const [key, raw] of queue.scan(thread, { from: 'j/', to: 'j0' })) {
        const job = parse(raw)
        out.push({ threadId: decodeURIComponent(key.slice(2)), status: job.s, owner: job.o, claims: job.c, error: job.e })
      }
      return out
    },
  }
}

function parse(raw: Uint8Array): JobRecord {
  let job: JobRecord | undefined
  try {
    const body = openText(raw)
    job = body && (JSON.parse(text.decode(body)) as JobRecord)
  } catch {
    // reported below
  }
  if (!job || typeof job.s !== 'string' || typeof job.l !== 'number' || typeof job.c !== 'number') throw new EdgegraphError('CORRUPT_RECORD', 'a runner job record is corrupt: delete it (or the queue thread) and enqueue the thread again')
  return job
}

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value <= 0) throw new EdgegraphError('INVALID_ARGUMENT', `createRunner: ${what} must be a positive number, got ${String(value)}`)
  return value
}
