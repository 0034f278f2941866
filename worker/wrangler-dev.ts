/** @module Starts a Worker in a real local workerd with `wrangler dev` and stops its whole process group (Node only). */
/*
 * On 127.0.0.1; stopped by its process id (the process group: wrangler, esbuild and workerd). Used by `npm run dev`
 * (worker/dev.ts), the end-to-end tests and the worker benchmark.
 *
 * wrangler's CLI refuses Node 20 from 4.87 on, but runs fine there when started as
 * `node node_modules/wrangler/wrangler-dist/cli.js` (see TOOLCHAIN.md).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildDemo } from '../demo/build.js'

const root = fileURLToPath(new URL('../', import.meta.url))

/** Options of {@link startWranglerDev}. */
export interface WranglerDevOptions {
  /** wrangler config (default: the repository's wrangler.jsonc). */
  config?: string
  /** Entry to serve instead of the config's `main` (with `noBundle`, an already bundled script). */
  script?: string
  /** Serve `script` as it is (`--no-bundle`). */
  noBundle?: boolean
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number
  /** Where Durable Objects and D1 keep their data between runs. */
  persistTo: string
  /**
   * Variables and secrets for the Worker. They go to wrangler in an env file readable only by this user (removed
   * when it stops), never on its command line, where `ps` would show them to everyone on the machine.
   */
  vars?: Record<string, string>
  /** Path answered with 2xx once the Worker is up (default `/`). */
  ready?: string
  /** Progress lines (default: none). */
  log?: (line: string) => void
  /** Show wrangler's own output live (default: collected, and shown only if it fails to start). */
  inherit?: boolean
  /**
   * wrangler's local trace collector (the local explorer's observability; default on). It turns every span of the
   * Worker, each Durable Object `sql.exec` and D1 statement included, into a write to a local store: ~90 µs per SQL
   * call on this machine kind. The benchmarks turn it off, since deployed Workers pay nothing like it.
   */
  localObservability?: boolean
}

/** A running `wrangler dev`. */
export interface WranglerDev {
  /** Where the Worker answers: `http://127.0.0.1:<port>`. */
  url: string
  /** Process id of wrangler, which leads its process group. */
  pid: number
  /** Everything wrangler printed so far (empty with `inherit`). */
  output(): string
  /** Kills the process group (SIGTERM, then SIGKILL) and waits for it. Safe to call twice. */
  stop(): Promise<void>
  /** Kills it at once with SIGKILL, as a crash would: no shutdown, nothing flushed. */
  kill(): Promise<void>
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(true)
    const timer = setTimeout(() => resolve(false), ms)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/** Starts `wrangler dev` and waits (up to 90 s) until the Worker answers; throws with wrangler's output if it cannot. */
export async function startWranglerDev(options: WranglerDevOptions): Promise<WranglerDev> {
  // The root config serves the demo page as static assets: build it first (a fraction of a second).
  if (options.config === undefined && options.script === undefined) await buildDemo()
  const port = options.port ?? (await freePort())
  const args = ['--no-warnings', path.join(root, 'node_modules/wrangler/wrangler-dist/cli.js'), 'dev']
  if (options.script !== undefined) args.push(options.script)
  if (options.noBundle) args.push('--no-bundle')
  args.push('--config', options.config ?? path.join(root, 'wrangler.jsonc'))
  args.push('--ip', '127.0.0.1', '--port', String(port), '--persist-to', options.persistTo, '--show-interactive-dev-session=false')
  let envFile: string | undefined
  if (options.vars && Object.keys(options.vars).length > 0) {
    for (const [name, value] of Object.entries(options.vars)) {
      if (!/^[A-Z_][A-Z0-9_]*$/i.test(name) || /[\r\n'"]/.test(value)) throw new TypeError(`wrangler dev var ${name}: names are identifiers and values single lines without quotes`)
    }
    envFile = path.join(mkdtempSync(path.join(tmpdir(), 'edgegraph-env-')), '.env')
    writeFileSync(envFile, Object.entries(options.vars).map(([name, value]) => `${name}="${value}"\n`).join(''), { mode: 0o600 })
    args.push('--env-file', envFile)
  }
  const child = spawn(process.execPath, args, {
    cwd: root,
    detached: true, // its own process group, so stop() reaches workerd too
    stdio: options.inherit ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: process.env.CI ?? 'true', ...(options.localObservability === false ? { X_LOCAL_OBSERVABILITY: 'false' } : {}) },
  })
  if (envFile !== undefined) {
    const dir = path.dirname(envFile)
    child.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  }
  let output = ''
  child.stdout?.on('data', (d: Buffer) => (output += d))
  child.stderr?.on('data', (d: Buffer) => (output += d))
  const pid = child.pid as number
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pid, name)
    } catch {
      // already gone
    }
  }
  let stopped: Promise<void> | undefined
  const stop = () =>
    (stopped ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      signal('SIGTERM')
      if (!(await exited(child, 5_000))) {
        signal('SIGKILL')
        await exited(child, 5_000)
      }
    })())
  const kill = () =>
    (stopped ??= (async () => {
      signal('SIGKILL')
      await exited(child, 5_000)
    })())

  const url = `http://127.0.0.1:${port}`
  options.log?.(`starting wrangler dev on ${url} (pid ${pid})`)
  const deadline = Date.now() + 90_000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`wrangler dev exited (${child.exitCode ?? child.signalCode}) before answering:\n${output.trim()}`)
    }
    try {
      const res = await fetch(url + (options.ready ?? '/'))
      if (res.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`wrangler dev did not answer within 90 s:\n${output.trim()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  return { url, pid, output: () => output, stop, kill }
}

/**
 * For the long-running commands (`npm run dev`, `npm start`): the token secret kept in `dir/secret` (made once, never
 * committed, so tokens stay valid across restarts) and the port from `PORT` (default 8787); exits with a message
 * when `PORT` is not a port.
 */
export function devSettings(dir: string): { secret: string; port: number } {
  mkdirSync(dir, { recursive: true })
  const secretFile = path.join(dir, 'secret')
  if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 })
  const port = Number(process.env.PORT ?? 8787)
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) {
    console.error(`PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`)
    process.exit(1)
  }
  return { secret: readFileSync(secretFile, 'utf8').trim(), port }
}

/** Keeps the process running while `server` does: Ctrl-C (or SIGTERM) stops it, and its death ends the process. */
export function runUntilStopped(server: WranglerDev): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      console.log('\nstopping wrangler dev...')
      void server.stop().then(() => process.exit(0))
    })
  }
  const watch = setInterval(() => {
    try {
      process.kill(server.pid, 0)
    } catch {
      clearInterval(watch)
      console.error('wrangler dev stopped unexpectedly:\n' + server.output().slice(-4000))
      process.exit(1)
    }
  }, 1000)
}
