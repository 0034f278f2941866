/**
 * One runner process for test/runner-postgres.test.ts and bench/runner.ts: runs queued threads of the worker graph
 * against PostgreSQL until killed (or, with `--until-idle`, until jobs were queued and all have ended). Prints
 * `ready` once it runs, then one JSON line per runner event.
 * Usage: tsx test/runner/child.ts <postgres url> <owner> <leaseMs> <schema> [--until-idle]
 */
import pg from 'pg'
import { createPostgresAdapter } from '../../adapters/postgres.js'
import { createRunner } from '../../src/runner.js'
import { workerGraph } from './graph.js'

const [url, owner, lease, schema] = process.argv.slice(2) as [string, string, string, string]
const pool = new pg.Pool({ connectionString: url, max: 4 })
pool.on('error', () => {}) // a server restart is reported to the runner by its next query
const store = createPostgresAdapter(pool, { schema })
const runner = createRunner({ graph: workerGraph(store), queue: store, owner, leaseMs: Number(lease), pollMs: 20, concurrency: 2, onEvent: (e) => process.stdout.write(`${JSON.stringify(e)}\n`) })
runner.start()
process.stdout.write('ready\n')
if (process.argv.includes('--until-idle')) {
  // Until jobs were queued and every one has ended.
  for (;;) {
    await new Promise((r) => setTimeout(r, 50))
    const jobs = await runner.jobs()
    if (jobs.length > 0 && jobs.every((j) => j.status === 'done' || j.status === 'failed' || j.status === 'waiting')) break
  }
  await runner.stop()
  await pool.end()
}
