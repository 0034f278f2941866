/** @module The Worker `wrangler dev` and `wrangler deploy` run (root wrangler.jsonc): copy it and register your own graphs. */
/*
 * The example graphs, each thread in its own SQLite-backed Durable Object, the storage API on D1.
 */
import { createEdgegraphWorker } from './index.js'
import { exampleGraphs } from './graphs.js'

const { worker, ThreadObject } = createEdgegraphWorker({ graphs: exampleGraphs })

/** Bound as THREADS in wrangler.jsonc. */
export class EdgegraphThread extends ThreadObject {}

export default worker
