/**
 * The runner with real processes on a real PostgreSQL: four runner processes (two slots each) work through one
 * hundred queued threads while processes are killed with SIGKILL at random and replaced. Every thread finishes, each
 * history is one line with every step stored once (a step stored and then run again would show twice in the log),
 * and killed processes' threads were taken over after their leases.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresAdapter } from '../adapters/postgres.js'
import { createRunner, type RunnerEvent } from '../src/runner.js'
import { collect } from './helpers.js'
import { STEPS, workerGraph } from './runner/graph.js'
import { startPostgres, type TestServer } from './servers/index.js'

const THREADS = 100
const PROCESSES = 4
const KILLS = 6
const LEASE_MS = 1500
const child = fileURLToPath(new URL('runner/child.ts', import.meta.url))

let server: TestServer
let pool: pg.Pool

beforeAll(async () => {
  server = await startPostgres()
  pool = new pg.Pool({ connectionString: server.url, max: 4 })
  pool.on('error', () => {})
}, 60_000)

afterAll(async () => {
  await pool?.end()
  await server?.stop()
}, 30_000)

describe('runner: many processes, one PostgreSQL', () => {
  it(`${PROCESSES} processes, ${THREADS} threads, ${KILLS} processes killed with SIGKILL at random: every thread finishes, each step stored once`, async () => {
    const schema = 'runner_chaos'
    const store = createPostgresAdapter(pool, { schema })
    const queue = createRunner({ graph: workerGraph(store), queue: store })
    const threads = Array.from({ length: THREADS }, (_, i) => `thread-${i}`)
    for (const t of threads) await queue.enqueue(t, { log: [`in ${t}`] })

    const events: RunnerEvent[] = []
    const alive = new Set<ChildProcess>()
    let spawned = 0
    const launch = () => {
      const owner = `p${spawned++}`
      const proc = spawn(process.execPath, ['--import', 'tsx', child, server.url, owner, String(LEASE_MS), schema], { stdio: ['ignore', 'pipe', 'pipe'] })
      let buffer = ''
      proc.stdout?.on('data', (d: Buffer) => {
        buffer += d.toString()
        const lines = buffer.split('\n')
        buffer = lines.pop() ?? ''
        for (const line of lines) if (line.startsWith('{')) events.push(JSON.parse(line) as RunnerEvent)
      })
      let err = ''
      proc.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)))
      proc.on('exit', (code, signal) => {
        alive.delete(proc)
        if (signal !== 'SIGKILL' && code !== 0) events.push({ type: 'failed', threadId: '-', owner, error: `process exited ${code ?? signal}: ${err}` })
      })
      alive.add(proc)
    }
    for (let i = 0; i < PROCESSES; i++) launch()

    let kills = 0
    try {
      // Each time another eighth of the threads is done, kill a random process mid-run and start a new one.
      for (;;) {
        // Counted in the database, not from the processes' output: a process killed right after finishing a job
        // never prints that it did.
        const jobs = await queue.jobs()
        const done = jobs.filter((j) => j.status === 'done').length
        expect(events.filter((e) => e.type === 'failed')).toEqual([])
        expect(jobs.filter((j) => j.status === 'failed' || j.status === 'waiting')).toEqual([])
        if (done >= THREADS) break
        if (kills < KILLS && done >= ((kills + 1) * THREADS) / (KILLS + 2)) {
          const victims = [...alive]
          victims[Math.floor(Math.random() * victims.length)]?.kill('SIGKILL')
          kills++
          launch()
        }
        await new Promise((r) => setTimeout(r, 50))
      }
    } finally {
      for (const p of alive) p.kill('SIGKILL')
    }
    expect(kills).toBe(KILLS)

    const jobs = await queue.jobs()
    expect(jobs.filter((j) => j.status !== 'done')).toEqual([])
    const graph = workerGraph(store)
    for (const t of threads) {
      const history = (await collect(graph.getStateHistory({ threadId: t }))).reverse()
      // One line: each checkpoint's parent is the one before it; every step stored once, in order.
      history.forEach((s, i) => expect(s.parentConfig?.checkpointId, `${t} checkpoint ${i}`).toBe(history[i - 1]?.config.checkpointId))
      expect(history.at(-1)?.values.log).toEqual([`in ${t}`, ...Array.from({ length: STEPS }, (_, i) => `step ${i + 1}`)])
    }
    // Killed processes held threads: others took them over after the lease.
    const takeovers = events.filter((e) => e.type === 'claimed' && e.takeover).length
    expect(takeovers).toBeGreaterThan(0)
    console.info(`runner chaos: ${THREADS} threads, ${spawned} processes started, ${kills} killed, ${takeovers} takeovers, ${jobs.reduce((n, j) => n + j.claims, 0)} claims`)
  }, 240_000)
})
