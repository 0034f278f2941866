/** @module The Worker `wrangler dev` and `wrangler deploy` run (root wrangler.jsonc): copy it and register your own graphs. */
/*
 * The example graphs and the demo page's agent, each thread in its own SQLite-backed Durable Object, the storage API
 * on D1; the demo page (demo/dist) as static assets.
 */
import { createEdgegraphWorker } from './index.js'
import { exampleGraphs } from './graphs.js'
import { createAgent, scriptedModel } from '../demo/app/agent.js'
import type { StorageAdapter } from '../src/checkpoint/adapter.js'

// `agent` is the demo page's agent, so threads a browser syncs here can be shown and continued by the run API.
const agent = (checkpointer: StorageAdapter) => createAgent(checkpointer, () => scriptedModel({ tokenDelayMs: 0 }))
const { worker, ThreadObject } = createEdgegraphWorker({ graphs: { ...exampleGraphs, agent } })

/** Bound as THREADS in wrangler.jsonc. */
export class EdgegraphThread extends ThreadObject {}

export default worker
