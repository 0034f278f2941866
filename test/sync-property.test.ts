/**
 * Sync as a property: two or three devices and one remote, on memory stores (small packs, so imports land inside
 * packs too), with random interleavings of turns, forks, interrupts, resumes and syncs. After a final round every
 * replica holds the same checkpoints (each once, none lost), in the same order, with the same head.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Command } from '../src/index.js'
import { createSync, type SyncPolicy } from '../src/sync/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { chat, historyOf } from './sync-helpers.js'

type Op =
  | { kind: 'turn'; device: number; ask: boolean }
  | { kind: 'fork'; device: number; back: number }
  | { kind: 'resume'; device: number }
  | { kind: 'sync'; device: number }

const op = (devices: number): fc.Arbitrary<Op> =>
  fc.oneof(
    fc.record({ kind: fc.constant('turn' as const), device: fc.nat(devices - 1), ask: fc.boolean() }),
    fc.record({ kind: fc.constant('fork' as const), device: fc.nat(devices - 1), back: fc.nat(12) }),
    fc.record({ kind: fc.constant('resume' as const), device: fc.nat(devices - 1) }),
    fc.record({ kind: fc.constant('sync' as const), device: fc.nat(devices - 1) }),
  )

const policies: SyncPolicy[] = ['remote-wins', 'local-wins', (c) => (c.local > c.remote ? 'local' : 'remote')]

describe('sync property: replicas converge', () => {
  it('2-3 devices, random runs, forks, interrupts and syncs: same checkpoints everywhere, none lost or duplicated, same head', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 3 }).chain((n) => fc.tuple(fc.constant(n), fc.array(op(n), { minLength: 1, maxLength: 25 }), fc.nat(policies.length - 1))), async ([n, ops, p]) => {
        const remote = createMemoryAdapter()
        const stores = Array.from({ length: n }, () => createMemoryAdapter())
        const graphs = stores.map((s) => chat(s, 3))
        const syncs = stores.map((local) => createSync({ local, remote, policy: policies[p] as SyncPolicy }))
        const made = new Set<string>()
        let turn = 0
        for (const o of ops) {
          const g = graphs[o.device] as (typeof graphs)[number]
          const waiting = ((await g.getState({ threadId: 't' }).catch(() => undefined))?.interrupts.length ?? 0) > 0
          if (o.kind === 'turn' && !waiting) await g.invoke({ messages: [`m${turn++}`], ask: o.ask }, { threadId: 't' })
          else if (o.kind === 'resume' && waiting) await g.invoke(new Command({ resume: `ok${turn++}` }), { threadId: 't' })
          else if (o.kind === 'fork') {
            const all = await historyOf(g, 't')
            const from = all[Math.max(0, all.length - 1 - o.back)] as { id: string } | undefined
            if (from) await g.invoke({ messages: [`f${turn++}`], ask: false }, { threadId: 't', checkpointId: from.id })
          } else if (o.kind === 'sync') {
            const r = await (syncs[o.device] as (typeof syncs)[number]).syncThread('t')
            expect(r.error).toBeUndefined()
          }
          for (const c of await historyOf(g, 't')) made.add((c as { id: string }).id)
        }
        // Final round: each device twice, so every one has seen every other's last word.
        for (let round = 0; round < 2; round++) for (const s of syncs) expect((await s.syncThread('t')).error).toBeUndefined()
        const reference = await historyOf(chat(remote), 't')
        const ids = reference.map((c) => (c as { id: string }).id)
        expect(new Set(ids).size).toBe(ids.length)
        expect(ids).toEqual([...ids].sort())
        expect(new Set(ids)).toEqual(made)
        const head = made.size > 0 ? (await chat(remote).getState({ threadId: 't' })).config.checkpointId : undefined
        for (const g of graphs) {
          expect(await historyOf(g, 't')).toEqual(reference)
          if (made.size > 0) expect((await g.getState({ threadId: 't' })).config.checkpointId).toBe(head)
        }
      }),
      { numRuns: Number(process.env.SYNC_RUNS ?? 200) },
    )
  }, 120_000)
})
