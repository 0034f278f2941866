/** @module `npm run dev`: the edgegraph Worker in a local `wrangler dev`, with a development token and a first request to try. */
/*
 * The Worker is worker/main.ts (root wrangler.jsonc) on 127.0.0.1; Durable Objects and D1 are persisted in
 * `.wrangler/edgegraph-dev/`. Ctrl-C stops it.
 *
 * The token secret is made once and kept in `.wrangler/edgegraph-dev/secret` (never committed), so tokens stay
 * valid across restarts. `PORT` picks the port (default 8787).
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { mintToken } from './auth.js'
import { devSettings, runUntilStopped, startWranglerDev } from './wrangler-dev.js'

const root = fileURLToPath(new URL('../', import.meta.url))
const state = path.join(root, '.wrangler', 'edgegraph-dev')
const { secret, port } = devSettings(state)

console.log('Starting the edgegraph Worker with wrangler dev (first start bundles it: a few seconds)...')
let server
try {
  server = await startWranglerDev({ persistTo: path.join(state, 'state'), port, vars: { EDGEGRAPH_JWT_SECRET: secret, EDGEGRAPH_EXPOSE_ERRORS: 'true' }, log: (line) => console.log(line) })
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

runUntilStopped(server)
