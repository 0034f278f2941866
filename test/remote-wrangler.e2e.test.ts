/**
 * @module The remote adapter (adapters/remote.ts) against the storage API of the real Worker in `wrangler dev`
 * (D1 in a local workerd underneath): the conformance suite, each adapter in a tenant of its own (tenants isolate
 * threads, so every `create()` starts from an empty store).
 */
import { afterAll, beforeAll, vi } from 'vitest'
import { createRemoteAdapter } from '../adapters/remote.js'
import { runConformance } from './conformance/index.js'
import type { ConformanceOptions } from './conformance/suite.js'
import { groupGone, removeDir, startServer, tempDir, tokenFor, type DevServer } from './wrangler-fixture.js'

vi.setConfig({ testTimeout: 30_000, hookTimeout: 120_000 })

let persistTo: string
let server: DevServer | undefined

beforeAll(async () => {
  persistTo = await tempDir()
  server = await startServer(persistTo)
})

afterAll(async () => {
  if (server !== undefined) {
    await server.dev.stop()
    if (!(await groupGone(server.dev.pid))) throw new Error(`wrangler dev (process group ${server.dev.pid}) is still alive after stop()`)
  }
  if (persistTo !== undefined) await removeDir(persistTo)
})

let tenants = 0
/** A remote adapter on an empty store: a new tenant, with all rights. */
async function fresh(maxValueBytes?: number) {
  if (server === undefined) throw new Error('wrangler dev did not start')
  const token = await tokenFor(server, { tenant: `t${tenants++}` })
  return createRemoteAdapter({ url: server.url, token, ...(maxValueBytes === undefined ? {} : { maxValueBytes }) })
}

const options: ConformanceOptions = {
  name: 'remote over wrangler dev (D1)',
  create: () => fresh(),
  createSmall: () => fresh(4096),
  // Every storage call is an HTTP request through wrangler dev into D1, so the random histories (100 and 50 cases
  // elsewhere) run a few cases each here: the only random-history run of this whole path.
  propertyRuns: 5,
}

runConformance(options)
