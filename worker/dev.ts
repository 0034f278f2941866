/** @module `npm run dev`: the edgegraph Worker in a local `wrangler dev`, with a development token and a first request to try. */
/*
 * The Worker is worker/main.ts (root wrangler.jsonc) on 127.0.0.1; Durable Objects and D1 are persisted in
 * `.wrangler/edgegraph-dev/`. Ctrl-C stops it.
 *
 * The token secret is made once and kept in `.wrangler/edgegraph-dev/secret` (never committed), so tokens stay
 * valid across restarts. `PORT` picks the port (default 8787).
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { mintToken } from './auth.js'
import { startWranglerDev } from './wrangler-dev.js'

const root = fileURLToPath(new URL('../', import.meta.url))
const state = path.join(root, '.wrangler', 'edgegraph-dev')
mkdirSync(state, { recursive: true })
const secretFile = path.join(state, 'secret')
if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 })
const secret = readFileSync(secretFile, 'utf8').trim()

const port = Number(process.env.PORT ?? 8787)
if (!Number.isInteger(port) || port <= 0 || port > 65_535) {
  console.error(`PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`)
  process.exit(1)
}

console.log('Starting the edgegraph Worker with wrangler dev (first start bundles it: a few seconds)...')
let server
try {
  server = await startWranglerDev({ persistTo: path.join(state, 'state'), port, vars: { EDGEGRAPH_JWT_SECRET: secret }, log: (line) => console.log(line) })
} catch (err) {
  console.error(err instanceof Error ? err.message : err)
  console.error(`\nCould not start the Worker. If port ${port} is taken, run: PORT=8788 npm run dev`)
  process.exit(1)
}
const token = await mintToken(secret, { sub: 'dev', tenant: 'dev', rights: ['admin'] }, { expiresIn: 7 * 86_400 })
const { url } = server

console.log(`
edgegraph Worker: ${url}   (Durable Objects and D1 persisted in ${path.relative(root, state)}/state)
graphs:           ${JSON.stringify(((await (await fetch(`${url}/v1/graphs`, { headers: { authorization: `Bearer ${token}` } })).json()) as { graphs: string[] }).graphs)}

Development token (tenant "dev", all rights, valid 7 days):
${token}

Try it:
  export EDGEGRAPH_TOKEN=${token}
  curl -s -X POST ${url}/v1/threads/hello/runs -H "authorization: Bearer $EDGEGRAPH_TOKEN" \\
       -H 'content-type: application/json' -d '{"graph":"counter","input":{"target":3}}'
  curl -sN -X POST ${url}/v1/threads/chat-1/runs -H "authorization: Bearer $EDGEGRAPH_TOKEN" \\
       -H 'content-type: application/json' -d '{"graph":"chat","input":{"messages":[{"role":"user","content":"hi"}]},"stream":"updates"}'

Ctrl-C stops the server.`)

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    console.log('\nstopping wrangler dev...')
    void server.stop().then(() => process.exit(0))
  })
}
// Keep running while wrangler does; exit with it if it dies.
const watch = setInterval(() => {
  try {
    process.kill(server.pid, 0)
  } catch {
    clearInterval(watch)
    console.error('wrangler dev stopped unexpectedly:\n' + server.output().slice(-4000))
    process.exit(1)
  }
}, 1000)
