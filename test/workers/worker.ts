/**
 * @module The Worker the 'workers' vitest project runs in (workerd via @cloudflare/vitest-plugin): a bare SQLite-backed
 * Durable Object for the adapter tests, and the edgegraph Worker itself (worker/index.ts) with the example graphs,
 * which `SELF.fetch` reaches, for the run API tests.
 */
import { DurableObject } from 'cloudflare:workers'
import { createEdgegraphWorker } from '../../worker/index.js'
import { createThreadObject } from '../../worker/thread/object.js'
import { exampleGraphs } from '../../worker/graphs.js'
import { END, START, StateGraph } from '../../src/index.js'
import type { StorageAdapter } from '../../src/checkpoint/adapter.js'

/** Keys of `freezeOnce` runs that have frozen already (module state outlives an aborted object in this isolate). */
const frozen = new Set<string>()

/**
 * A counter whose node never returns the first time it reaches `freezeAt` (per `key`): what a run looks like from
 * storage when its object is evicted mid-step. The test then aborts the object, and only the alarm can finish it.
 */
function freezeOnce(checkpointer: StorageAdapter) {
  return new StateGraph({ count: { default: () => 0 }, target: { default: () => 5 }, freezeAt: { default: () => -1 }, key: { default: () => '' } })
    .addNode('increment', async (s) => {
      if (s.count === s.freezeAt && !frozen.has(s.key)) {
        frozen.add(s.key)
        await new Promise<never>(() => undefined)
      }
      return { count: s.count + 1 }
    })
    .addEdge(START, 'increment')
    .addConditionalEdges('increment', (s) => (s.count >= s.target ? END : 'increment'))
    .compile({ checkpointer })
}

/** Holds nothing itself: tests reach its `ctx.storage` through `runInDurableObject`. */
export class TestStore extends DurableObject<Env> {
  ping(): string {
    return 'pong'
  }
}

/** Keys of `failOnce` runs whose node has failed already. */
const failed = new Set<string>()

/** A counter whose node throws once when it reaches `failAt` (per `key`), as a flaky LLM call would. */
function failOnce(checkpointer: StorageAdapter) {
  return new StateGraph({ count: { default: () => 0 }, target: { default: () => 5 }, failAt: { default: () => -1 }, key: { default: () => '' } })
    .addNode('increment', (s) => {
      if (s.count === s.failAt && !failed.has(s.key)) {
        failed.add(s.key)
        throw new Error(`model timed out at count ${s.count}`)
      }
      return { count: s.count + 1 }
    })
    .addEdge(START, 'increment')
    .addConditionalEdges('increment', (s) => (s.count >= s.target ? END : 'increment'))
    .compile({ checkpointer })
}

// A long lease, so only the tests trigger the alarm that re-drives a lost run.
const { worker, ThreadObject } = createEdgegraphWorker({
  graphs: { ...exampleGraphs, freezeOnce, failOnce },
  leaseMs: 60_000,
  // Only what the rate-limit tests send is counted: tenants named limited-*, and client addresses 10.99.*.
  rateLimitKeys: {
    beforeAuth: (request) => {
      if (request.headers.get('x-test-limiter') === 'broken') throw new Error('limiter down')
      const ip = request.headers.get('cf-connecting-ip') ?? ''
      return ip.startsWith('10.99.') ? `ip:${ip}` : undefined
    },
    subject: (claims) => (claims.tenant.startsWith('limited-') ? `subject:${claims.tenant}/${claims.sub ?? '-'}` : undefined),
    tenant: (claims) => (claims.tenant.startsWith('limited-') ? `tenant:${claims.tenant}` : undefined),
  },
})

export class EdgegraphThread extends ThreadObject {}

/** The same thread object with `store: 'd1'`: runs in the object, history in D1 (tables `runs_d1_*`). */
export class EdgegraphThreadD1 extends createThreadObject({ graphs: { ...exampleGraphs, freezeOnce }, store: 'd1', d1Table: 'runs_d1', leaseMs: 60_000 }) {}

/** The same thread object with runs limited to 1.5 s (`maxRunMs`), for the deadline test. */
export class EdgegraphThreadShort extends createThreadObject({ graphs: exampleGraphs, leaseMs: 60_000, maxRunMs: 1_500 }) {}

export default worker
