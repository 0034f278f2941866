/**
 * @module `npm start`: the demo page and the Worker together in a local `wrangler dev` on 127.0.0.1 (the Worker serves
 * the page as static assets, so `npm run deploy` ships the same thing). Prints the link (with a development token, so
 * the page can sync) and what to try. Ctrl-C stops it. `PORT` picks the port (default 8787).
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { mintToken } from '../worker/auth.js'
import { devSettings, runUntilStopped, startWranglerDev } from '../worker/wrangler-dev.js'
import { buildDemo } from './build.js'

const root = fileURLToPath(new URL('../', import.meta.url))
const state = path.join(root, '.wrangler', 'edgegraph-demo')
const { secret, port } = devSettings(state)

console.log('Building the demo page...')
const built = await buildDemo()
const gzip = built.reduce((n, f) => n + f.gzip, 0)
console.log(`  ${built.map((f) => `${f.file} ${(f.gzip / 1024).toFixed(1)} KB`).join(', ')} (gzip; ${(gzip / 1024).toFixed(1)} KB in all)`)
console.log('Starting the Worker with wrangler dev (the first start bundles it: a few seconds)...')
let server
try {
  server = await startWranglerDev({ persistTo: path.join(state, 'state'), port, vars: { EDGEGRAPH_JWT_SECRET: secret, EDGEGRAPH_EXPOSE_ERRORS: 'true' }, log: (line) => console.log(`  ${line}`) })
} catch (err) {
  console.error(err instanceof Error ? err.message : err)
  console.error(`\nCould not start the Worker. If port ${port} is taken, run: PORT=8788 npm start`)
  process.exit(1)
}
const token = await mintToken(secret, { sub: 'demo', tenant: 'demo', rights: ['read', 'run'] }, { expiresIn: 30 * 86_400 })
const link = `${server.url}/#token=${token}`

console.log(`
edgegraph demo: ${server.url}

Open this link (it hands the page a development token for sync, valid 30 days):
  ${link}

Try:
  1. Ask "weather in Paris and 12*7": the plan fans out two tool calls (Send), a draft streams in, then the run
     pauses for your approval (interrupt). Approve, edit or reject.
  2. Reload the tab while an answer streams: the page comes back and says from which step it continues.
  3. Go offline (DevTools > Network > Offline) and reload: the page still loads, runs go on into IndexedDB, and
     the badge counts checkpoints waiting to sync. Back online, they reach the Worker.
  4. Open the same link in a second browser (or a private window), open the thread by id, diverge both while
     offline: after sync both lines are in the timeline as branches.
  5. In the timeline, pick two checkpoints to diff, replay or fork from one.

The Worker's API is at ${server.url}/v1 (see README). Data is kept in ${path.relative(root, state)}/state.
Ctrl-C stops it.`)

runUntilStopped(server)
