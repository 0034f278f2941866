/**
 * @module Starts the bench Worker in a real local workerd (`wrangler dev`, through worker/wrangler-dev.ts) and stops
 * it by its process group.
 *
 * The Worker is bundled once with esbuild into a temp directory and served with `--no-bundle`: wrangler's own
 * bundling watches every imported source file and reloads the Worker when one changes, which throws away the
 * Durable Object a case is running on (seen here while src/ was being edited). wrangler's local trace collector is
 * off (see `localObservability` in worker/wrangler-dev.ts): it added ~90 µs to every SQL call.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { startWranglerDev } from '../../worker/wrangler-dev.js'

const here = fileURLToPath(new URL('./', import.meta.url))

export interface DevServer {
  origin: string
  pid: number
  /** The last `lines` lines wrangler printed. */
  tail(lines: number): string
  /** Kills the process group, waits for it, removes the temp directory. Safe to call twice. */
  stop(): Promise<void>
}

export async function startDevServer(log: (line: string) => void): Promise<DevServer> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'edgegraph-bench-worker-'))
  const script = path.join(tmp, 'bundle', 'index.js')
  await build({
    entryPoints: [path.join(here, 'index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    // workerd provides these: cloudflare:workers, and Node built-ins under nodejs_compat.
    external: ['cloudflare:*', 'node:*', ...builtinModules],
    outfile: script,
    logLevel: 'error',
  })
  let server
  try {
    server = await startWranglerDev({ config: path.join(here, 'wrangler.jsonc'), script, noBundle: true, persistTo: path.join(tmp, 'state'), ready: '/ping?object=ready', log, localObservability: false })
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
  let stopped: Promise<void> | undefined
  const stop = () =>
    (stopped ??= (async () => {
      await server.stop()
      await rm(tmp, { recursive: true, force: true })
      // wrangler leaves a .wrangler folder next to the config.
      await rm(path.join(here, '.wrangler'), { recursive: true, force: true })
    })())
  const tail = (lines: number) => server.output().trimEnd().split('\n').slice(-lines).join('\n')
  return { origin: server.url, pid: server.pid, tail, stop }
}
