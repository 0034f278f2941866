/**
 * @module The real Worker (worker/main.ts, root wrangler.jsonc) in `wrangler dev` for end-to-end test files: one
 * server per file, each with its own temporary persist dir, port and token secret, so files running side by side
 * never share state; plain-`fetch` helpers to call it with signed tokens.
 *
 * Files do not share one server: vitest runs each file in its own worker, a server shared across them would need
 * a `globalSetup` in vitest.config.ts, and the crash test kills its server on purpose.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { mintToken, type AuthClaims } from '../worker/auth.js'
import { startWranglerDev, type WranglerDev } from '../worker/wrangler-dev.js'
import { answerOf, requestInit, sleep, type Answer, type Call } from './api-client.js'

export { sleep, threadPath, type Answer } from './api-client.js'

export interface DevServer {
  url: string
  dev: WranglerDev
  persistTo: string
  secret: string
}

/**
 * True once no process of the group led by `pid` (wrangler, esbuild, workerd) is left, polled for up to `ms`:
 * `stop()`/`kill()` wait for wrangler itself, while its children die (and are reaped) a moment later.
 */
export async function groupGone(pid: number, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      process.kill(-pid, 0)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true
      throw err
    }
    if (Date.now() > deadline) return false
    await sleep(50)
  }
}

/** A fresh temporary persist dir (removed by {@link removeDir}). */
export const tempDir = (): Promise<string> => mkdtemp(path.join(tmpdir(), 'edgegraph-e2e-'))
export const removeDir = (dir: string): Promise<void> => rm(dir, { recursive: true, force: true })

/**
 * Starts `wrangler dev` on a free port and checks that the server answering is this one (a token signed with this
 * server's own secret is accepted), since a free port picked by one file could be taken by another's server first.
 */
export async function startServer(persistTo: string, secret = randomBytes(32).toString('hex')): Promise<DevServer> {
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    let dev: WranglerDev
    try {
      dev = await startWranglerDev({ persistTo, vars: { EDGEGRAPH_JWT_SECRET: secret } })
    } catch (err) {
      lastError = err
      continue
    }
    const token = await mintToken(secret, { tenant: 'probe', rights: ['read'] }, { expiresIn: 60 })
    const probe = await fetch(`${dev.url}/v1/graphs`, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined)
    if (probe?.status === 200) return { url: dev.url, dev, persistTo, secret }
    lastError = new Error(`the server on ${dev.url} is not the one started (probe answered ${probe?.status ?? 'nothing'}):\n${dev.output().slice(-2000)}`)
    await dev.stop()
  }
  throw lastError
}

/** A token of `tenant` (default all rights, valid 10 minutes; a negative `expiresIn` gives an expired one). */
export function tokenFor(server: DevServer, claims: Partial<AuthClaims> & { tenant: string }, expiresIn = 600): Promise<string> {
  return mintToken(server.secret, { rights: ['admin'], ...claims }, { expiresIn })
}

/** Calls the server: `body` goes as JSON unless `raw` is given; `token` null sends no Authorization header. */
export async function call(server: DevServer, method: string, route: string, options: Call): Promise<Answer> {
  return answerOf(await fetch(`${server.url}${route}`, requestInit(method, options)))
}
