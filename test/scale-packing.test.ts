/**
 * Packing keeps up with a long run (issue 15's scale target). Over the memory adapter every commit answers in
 * microtasks, so a run never yields to the event loop; a pack waiting for CompressionStream used to wait for the end
 * of the run, leaving every record of the run loose (50,000 keys at 50,000 steps) and packing them all inside the
 * run's last call. The writer now waits for a pack that has fallen a whole pack behind.
 */
import { describe, expect, it } from 'vitest'
import { END, START, StateGraph, type StorageAdapter } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { collect } from './helpers.js'
import { isPackKey } from '../src/checkpoint/keys.js'

const PACK = 8
const SENTENCE = 'The agent read the plan again and asked whether the second step should run before the first one. '

/** A chat of natural text (every pack of it compresses) over `adapter`, packing every PACK records. */
function chat(adapter: StorageAdapter, n: number) {
  return new StateGraph({ messages: { default: (): string[] => [], reducer: (a: string[], b: string[]) => a.concat(b) } })
    .addNode('chat', (s) => ({ messages: [`${s.messages.length}: ${SENTENCE.repeat(3)}`] }))
    .addEdge(START, 'chat')
    .addConditionalEdges('chat', (s) => (s.messages.length >= n ? END : 'chat'))
    .compile({ checkpointer: { adapter, packSize: PACK } })
}

describe('packing during a long run on a store that answers in microtasks', () => {
  it('keeps the loose records within two packs at every commit of the run', async () => {
    const memory = createMemoryAdapter()
    const loose = new Set<string>()
    let most = 0
    let packsDuringRun = 0
    const counting: StorageAdapter = {
      ...memory,
      async commit(thread, batch, guard) {
        await memory.commit(thread, batch, guard)
        for (const key of batch.del ?? []) loose.delete(key)
        for (const [key] of batch.put ?? []) {
          if (key.startsWith('c/')) loose.add(key)
          if (isPackKey(key)) packsDuringRun++
        }
        most = Math.max(most, loose.size)
      },
    }
    const n = 400
    expect((await chat(counting, n).invoke({ messages: [] }, { threadId: 't', recursionLimit: n + 10 })).messages).toHaveLength(n)
    expect(most).toBeLessThanOrEqual(2 * PACK + 1)
    expect(packsDuringRun).toBeGreaterThanOrEqual(Math.floor(n / PACK) - 2)
    // Every pack compressed ('z'), and the history reads whole.
    const packs = (await collect(memory.scan('t', { from: 'a/', to: 'a0' }))).map(([, v]) => String.fromCharCode(v[0] as number))
    expect(new Set(packs)).toEqual(new Set(['z']))
    const history = await collect(chat(memory, n).getStateHistory({ threadId: 't' }))
    expect(history.map((s) => (s.values.messages as string[]).length)).toEqual(Array.from({ length: n + 1 }, (_, i) => n - i))
  })
})
