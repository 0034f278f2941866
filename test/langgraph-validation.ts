/**
 * @module LangGraph.js's checkpointer conformance suite (`@langchain/langgraph-checkpoint-validation`, library mode)
 * run against `EdgegraphSaver` over one adapter. Each test group gets a saver over a fresh adapter from `create`,
 * because the suite's `list()` without a thread id expects to see only what the group stored. Its reads go through a
 * fresh `EdgegraphSaver` each time, so every checkpoint is rebuilt from what the adapter stored, never from the
 * writer's cache of recent docs.
 *
 * @example
 * // A new adapter: a factory of fresh, empty adapters (test/langgraph-servers.test.ts runs SQLite, PostgreSQL, Redis)
 * validateEdgegraphSaver('postgres', () => createPostgresAdapter(pool, { table: `lg${++n}` }))
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { deltaChannelHistoryTests, validate } from '@langchain/langgraph-checkpoint-validation'
import type { StorageAdapter } from '../src/checkpoint/adapter.js'
import { EdgegraphSaver } from '../src/langgraph.js'

type Config = Parameters<EdgegraphSaver['getTuple']>[0]

/** Writes as EdgegraphSaver does; reads through a fresh one, which has nothing cached. */
class ColdReads extends EdgegraphSaver {
  override getTuple(config: Config) {
    return new EdgegraphSaver(this.adapter).getTuple(config)
  }

  override list(config: Config, options?: Parameters<EdgegraphSaver['list']>[1]) {
    return new EdgegraphSaver(this.adapter).list(config, options)
  }
}

/** Runs the validation suite (and its opt-in getDeltaChannelHistory tests) on `EdgegraphSaver` over adapters made by `create`; `destroy` cleans one up after its group. */
export function validateEdgegraphSaver<A extends StorageAdapter>(name: string, create: () => A | Promise<A>, options: { destroy?: (adapter: A) => void | Promise<void> } = {}): void {
  // The suite calls vitest's globals (`globals: true`); this project imports them, so they are handed over here.
  Object.assign(globalThis, { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it })
  const adapters = new WeakMap<EdgegraphSaver, A>()
  const initializer = {
    checkpointerName: `EdgegraphSaver (${name})`,
    async createCheckpointer() {
      const adapter = await create()
      const saver = new ColdReads(adapter)
      adapters.set(saver, adapter)
      return saver
    },
    async destroyCheckpointer(saver: EdgegraphSaver) {
      const adapter = adapters.get(saver)
      if (adapter && options.destroy) await options.destroy(adapter)
    },
  }
  validate(initializer)
  // Opt-in in the package (getDeltaChannelHistory is beta, inherited from BaseCheckpointSaver); its own savers run it.
  describe(initializer.checkpointerName, () => deltaChannelHistoryTests(initializer))
}
