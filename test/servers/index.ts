/**
 * @module Real database servers for the server-store tests: a throwaway PostgreSQL or Redis on 127.0.0.1 (a free port,
 * a fresh data directory under the temp dir), started as a child process and stopped by its process id. `kill()`
 * is `kill -9` of the server process; `start()` again brings the same data directory back up. No mocks: Debian's
 * `postgresql` and `redis-server` (test/ensure-system.mjs installs them when missing).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, chownSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A server process over one data directory. */
export interface TestServer {
  readonly port: number
  /** `postgres://...` or `redis://...` for 127.0.0.1. */
  readonly url: string
  /** The process id of the running server (undefined while it is down). */
  readonly pid: number | undefined
  /** Starts it (again) on the same port and data directory; resolves once it accepts connections. */
  start(): Promise<void>
  /** `kill -9`: the server dies at once, as in a crash. */
  kill(): Promise<void>
  /** Stops it cleanly and removes its data directory. */
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => resolve(port))
    })
  })
}

async function accepting(port: number, child: ChildProcess, log: () => string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the server exited (${child.exitCode ?? child.signalCode}) before accepting connections:\n${log()}`)
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => (socket.destroy(), resolve(true)))
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > until) throw new Error(`the server did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms:\n${log()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()))
}

/** Runs `bin` as a server child; as root, as `user` (PostgreSQL refuses to run as root). */
function serverChild(bin: string, args: string[], user: { uid: number; gid: number } | undefined): { child: ChildProcess; log: () => string } {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}) })
  let out = ''
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-4000))
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return { child, log: () => out }
}

function managed(port: number, url: string, dir: string, launch: () => { child: ChildProcess; log: () => string }, ready: (port: number, c: ChildProcess, log: () => string) => Promise<void>): TestServer {
  let current: ChildProcess | undefined
  const server: TestServer = {
    port,
    url,
    get pid() {
      return current?.pid
    },
    async start() {
      if (current && current.exitCode === null && current.signalCode === null) return
      const { child, log } = launch()
      current = child
      await ready(port, child, log)
    },
    async kill() {
      const c = current
      if (!c) return
      c.kill('SIGKILL')
      await exited(c)
      current = undefined
    },
    async stop() {
      const c = current
      if (c) {
        c.kill('SIGTERM')
        await Promise.race([exited(c), new Promise((r) => setTimeout(r, 10_000))])
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
        await exited(c)
      }
      current = undefined
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return server
}

/** The bin directory of Debian's newest PostgreSQL. */
function postgresBin(): string {
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : []
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0]
  if (!newest) throw new Error('PostgreSQL is not installed: apt-get install -y --no-install-recommends postgresql (npm test does this as root)')
  return join(root, newest, 'bin')
}

/** PostgreSQL refuses to run as root: as root, the Debian `postgres` user runs it. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
  return { uid, gid }
}

/**
 * A fresh PostgreSQL cluster (database `postgres`, user `edgegraph`, trust auth) on 127.0.0.1. Tests run it with
 * `fsync=off` (a killed server still keeps what the OS cache holds); `durable: true` keeps PostgreSQL's defaults, each
 * commit flushed to disk, as the benchmark measures it.
 */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<TestServer> {
  const bin = postgresBin()
  const user = postgresUser()
  const dir = mkdtempSync(join(tmpdir(), 'edgegraph-pg-'))
  if (user) chownSync(dir, user.uid, user.gid)
  execFileSync(join(bin, 'initdb'), ['-D', dir, '-U', 'edgegraph', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], { stdio: 'pipe', ...(user ?? {}) })
  const port = await freePort()
  const args = ['-D', dir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', ...(options.durable ? [] : ['-c', 'fsync=off', '-c', 'full_page_writes=off'])]
  const server = managed(port, `postgres://edgegraph@127.0.0.1:${port}/postgres`, dir, () => serverChild(join(bin, 'postgres'), args, user), async (p, child, log) => {
    await accepting(p, child, log)
    // Accepting TCP is not yet accepting queries (startup, crash recovery after kill -9): wait for pg_isready.
    const until = Date.now() + 30_000
    while (Date.now() < until) {
      try {
        execFileSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(p), '-U', 'edgegraph', '-d', 'postgres'], { stdio: 'ignore' })
        return
      } catch {
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    throw new Error(`PostgreSQL on port ${p} did not become ready:\n${log()}`)
  })
  await server.start()
  return server
}

/** How a Redis server persists: `always` fsyncs the append-only file on every write (what the adapter documents for durability). */
export type RedisPersistence = 'always' | 'everysec' | 'none'

/** A fresh Redis on 127.0.0.1 with an append-only file in its own directory. */
export async function startRedis(persistence: RedisPersistence = 'always'): Promise<TestServer> {
  const bin = ['/usr/bin/redis-server', ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'redis-server'))].find((p) => existsSync(p))
  if (!bin) throw new Error('redis-server is not installed: apt-get install -y --no-install-recommends redis-server (npm test does this as root)')
  const dir = mkdtempSync(join(tmpdir(), 'edgegraph-redis-'))
  const port = await freePort()
  const aof = persistence === 'none' ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', persistence]
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', ...aof]
  const server = managed(port, `redis://127.0.0.1:${port}`, dir, () => serverChild(bin, args, undefined), accepting)
  await server.start()
  return server
}
