/** edgegraph/sync on memory stores: push, pull, divergence into branches, idempotent retries, bad remotes. */
import { describe, expect, it } from 'vitest'
import { Command } from '../src/index.js'
import { createSync, historyPeer, type SyncPeer } from '../src/sync/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { chat, historyOf, say, type Chat } from './sync-helpers.js'
import { counter } from './helpers.js'
import { adapterError, type StorageAdapter } from '../src/checkpoint/adapter.js'

const headOf = async (g: Chat, thread: string) => (await g.getState({ threadId: thread })).config.checkpointId

describe('sync between two memory stores', () => {
  it('pushes a thread made offline, oldest first, and a second device pulls it and continues', async () => {
    const [a, b, remote] = [createMemoryAdapter(), createMemoryAdapter(), createMemoryAdapter()]
    const ga = chat(a)
    await say(ga, 't', 'hello')
    await say(ga, 't', 'again')
    const syncA = createSync({ local: a, remote })
    const first = await syncA.syncThread('t')
    const made = (await historyOf(ga, 't')).length
    expect(first).toMatchObject({ threadId: 't', pushed: made, pulled: 0, head: await headOf(ga, 't') })
    expect(first.conflict).toBeUndefined()
    expect(await historyOf(chat(remote), 't')).toEqual(await historyOf(ga, 't'))

    const gb = chat(b)
    const syncB = createSync({ local: b, remote })
    expect(await syncB.syncThread('t')).toMatchObject({ pushed: 0, pulled: made })
    expect(await historyOf(gb, 't')).toEqual(await historyOf(ga, 't'))
    expect((await say(gb, 't', 'from b')).messages).toEqual(['hello', 're: hello', 'again', 're: again', 'from b', 're: from b'])
    expect(await syncB.syncThread('t')).toMatchObject({ pushed: 3, pulled: 0 })
    expect(await syncA.syncThread('t')).toMatchObject({ pushed: 0, pulled: 3, head: await headOf(gb, 't') })
    expect((await ga.getState({ threadId: 't' })).values.messages).toHaveLength(6)
    // Nothing new: nothing moves, and the bookkeeping answers without reading the history.
    expect(await syncA.syncThread('t')).toMatchObject({ pushed: 0, pulled: 0 })
  })

  it('makes a divergence two branches: both lines on both sides, the policy picks the head, the other stays forkable', async () => {
    for (const policy of ['remote-wins', 'local-wins'] as const) {
      const [a, b, remote] = [createMemoryAdapter(), createMemoryAdapter(), createMemoryAdapter()]
      const [ga, gb] = [chat(a), chat(b)]
      const [syncA, syncB] = [createSync({ local: a, remote, policy }), createSync({ local: b, remote, policy })]
      await say(ga, 't', 'start')
      await syncA.syncThread('t')
      await syncB.syncThread('t')
      const ancestor = await headOf(ga, 't')
      await say(ga, 't', 'a offline')
      await say(gb, 't', 'b offline')
      const [headA, headB] = [await headOf(ga, 't'), await headOf(gb, 't')]
      const plain = await syncB.syncThread('t')
      expect(plain).toMatchObject({ pushed: 3 })
      expect(plain.conflict).toBeUndefined()
      const r = await syncA.syncThread('t')
      const winner = policy === 'remote-wins' ? headB : headA
      expect(r).toMatchObject({ pushed: 3, pulled: 3, head: winner, conflict: { local: headA, remote: headB, ancestor, head: winner } })
      await syncB.syncThread('t')
      for (const g of [ga, gb, chat(remote)]) {
        expect(await headOf(g, 't')).toBe(winner)
        const ids = (await historyOf(g, 't')).map((c) => (c as { id: string }).id)
        expect(ids).toContain(headA)
        expect(ids).toContain(headB)
        expect(ids).toHaveLength(9)
      }
      expect(await historyOf(ga, 't')).toEqual(await historyOf(gb, 't'))
      // The losing line is readable and forkable.
      const loser = winner === headA ? headB : headA
      const lost = await ga.getState({ threadId: 't', checkpointId: loser })
      expect(lost.values.messages.at(-1)).toBe(winner === headA ? 're: b offline' : 're: a offline')
      const forked = await ga.invoke({ messages: ['fork'] }, { threadId: 't', checkpointId: loser })
      expect(forked.messages.slice(-2)).toEqual(['fork', 're: fork'])
      expect((await ga.getState({ threadId: 't' })).parentConfig?.checkpointId).not.toBe(winner)
    }
  })

  it('asks a policy function with both heads and their ancestor, and refuses an answer it cannot use', async () => {
    const [a, b, remote] = [createMemoryAdapter(), createMemoryAdapter(), createMemoryAdapter()]
    const [ga, gb] = [chat(a), chat(b)]
    const seen: unknown[] = []
    await say(ga, 't', 'x')
    await say(gb, 't', 'y') // started independently: no common checkpoint
    await createSync({ local: b, remote }).syncThread('t')
    const bad = await createSync({ local: a, remote, policy: () => 'both' as 'local' }).syncThread('t')
    expect(bad.error?.code).toBe('INVALID_ARGUMENT')
    const r = await createSync({ local: a, remote, policy: (c) => (seen.push(c), 'local') }).syncThread('t')
    expect(seen).toEqual([{ threadId: 't', local: await headOf(ga, 't'), remote: await headOf(gb, 't'), ancestor: undefined }])
    expect(r.conflict).toMatchObject({ ancestor: undefined, head: await headOf(ga, 't') })
    expect((await historyOf(chat(remote), 't')).length).toBe(6)
    expect((await chat(remote).getState({ threadId: 't' })).values.messages).toEqual(['x', 're: x'])
  })

  it('carries an interrupt: the other device sees the question and resumes it', async () => {
    const [a, b, remote] = [createMemoryAdapter(), createMemoryAdapter(), createMemoryAdapter()]
    const [ga, gb] = [chat(a), chat(b)]
    await ga.invoke({ messages: ['deploy?'], ask: true }, { threadId: 't' })
    await createSync({ local: a, remote }).syncThread('t')
    await createSync({ local: b, remote }).syncThread('t')
    const state = await gb.getState({ threadId: 't' })
    expect(state.next).toEqual(['review'])
    expect(state.interrupts.map((i) => i.value)).toEqual([{ question: 'send?' }])
    expect((await gb.invoke(new Command({ resume: 'yes' }), { threadId: 't' })).messages).toEqual(['deploy?', 'review: yes', 're: review: yes'])
    await createSync({ local: b, remote }).syncThread('t')
    await createSync({ local: a, remote }).syncThread('t')
    expect((await ga.getState({ threadId: 't' })).values.messages).toEqual(['deploy?', 'review: yes', 're: review: yes'])
  })

  it('keeps packs ordered when the other line interleaves with packed records', async () => {
    const [a, b, remote] = [createMemoryAdapter(), createMemoryAdapter(), createMemoryAdapter()]
    const [ga, gb] = [chat(a, 4), chat(b, 4)]
    await say(ga, 't', 'base')
    await createSync({ local: a, remote }).syncThread('t')
    await createSync({ local: b, remote }).syncThread('t')
    // Alternate steps on both devices, so their ids interleave in time while each side packs its own.
    for (let i = 0; i < 12; i++) {
      await say(ga, 't', `a${i}`)
      await say(gb, 't', `b${i}`)
    }
    await createSync({ local: b, remote }).syncThread('t')
    await createSync({ local: a, remote }).syncThread('t')
    await createSync({ local: b, remote }).syncThread('t')
    const histA = await historyOf(ga, 't')
    expect(histA).toEqual(await historyOf(gb, 't'))
    expect(histA).toEqual(await historyOf(chat(remote), 't'))
    expect(histA).toHaveLength(3 + 12 * 2 * 3) // a turn: input, review, reply
    const ids = histA.map((c) => (c as { id: string }).id)
    expect(ids).toEqual([...ids].sort())
    // Newest-first listing with a limit and a bound still sees the interleaved ids in order.
    const page: string[] = []
    for await (const s of ga.getStateHistory({ threadId: 't' }, { limit: 5, before: ids[30] as string })) page.push(s.config.checkpointId as string)
    expect(page).toEqual(ids.slice(25, 30).reverse())
  })
})

describe('sync of long histories', () => {
  it('asks the other side about many checkpoints a page at a time, and moves them in batches', async () => {
    const [a, remote] = [createMemoryAdapter(), createMemoryAdapter()]
    const [ca, cr] = [counter(a, 3), counter(remote, 3)]
    await ca.invoke({ count: 0 }, { threadId: 't' })
    const inner = historyPeer(remote)
    const asked: number[] = []
    const pushes: number[] = []
    const watched: SyncPeer = { ...inner, has: (t, ids) => (asked.push(ids.length), inner.has(t, ids)), push: (t, c) => (pushes.push(c.length), inner.push(t, c)) }
    const sync = createSync({ local: a, remote: watched })
    await sync.syncThread('t')
    // Both advance: the remote by a run of its own (its answer is then not its whole history), the device by 1200 steps.
    await cr.invoke(null, { threadId: 't' }).catch(() => undefined)
    await cr.updateState({ threadId: 't' }, { count: 100 })
    await counter(a, 1203).invoke(null, { threadId: 't', recursionLimit: 2000 }).catch(() => undefined)
    await counter(a, 1203).updateState({ threadId: 't' }, { count: 1 })
    await counter(a, 1203).invoke(null, { threadId: 't', recursionLimit: 2000 })
    const r = await sync.syncThread('t')
    expect(r.error).toBeUndefined()
    expect(r.pushed).toBeGreaterThan(1200)
    expect(Math.max(...asked)).toBeLessThanOrEqual(500)
    expect(asked.reduce((x, y) => x + y, 0)).toBeGreaterThan(1200)
    expect(Math.max(...pushes)).toBeLessThanOrEqual(400)
    const ids = async (s: typeof a) => {
      const out: string[] = []
      for await (const c of counter(s).getStateHistory({ threadId: 't' })) out.push(c.config.checkpointId)
      return out
    }
    expect(await ids(remote)).toEqual(await ids(a))
  })
})

describe('two devices syncing at the same moment', () => {
  it('a push from another device between this sync\'s reads and writes is still pulled by the next sync', async () => {
    const [a, b, remote] = [createMemoryAdapter(), createMemoryAdapter(), createMemoryAdapter()]
    const [ga, gb] = [chat(a), chat(b)]
    await say(ga, 't', 'base')
    await createSync({ local: a, remote }).syncThread('t')
    const syncB = createSync({ local: b, remote })
    await syncB.syncThread('t')
    await say(ga, 't', 'a1')
    await createSync({ local: a, remote }).syncThread('t')
    await say(gb, 't', 'b1') // B diverged from base: its sync adds its line to the remote and leaves the head (remote wins)
    await say(ga, 't', 'a2')
    const inner = historyPeer(remote)
    let raced = false
    // B's whole sync lands on the remote after A read it and before A's push.
    const racing: SyncPeer = {
      ...inner,
      push: async (t, c) => {
        if (!raced) {
          raced = true
          const r = await syncB.syncThread('t')
          expect(r).toMatchObject({ pushed: 3, conflict: { head: expect.any(String) } })
        }
        return inner.push(t, c)
      },
    }
    const syncA = createSync({ local: a, remote: racing })
    expect(await syncA.syncThread('t')).toMatchObject({ pushed: 3, pulled: 0 }) // it could not know about B's line yet
    expect(await syncA.syncThread('t')).toMatchObject({ pushed: 0, pulled: 3 })
    await syncB.syncThread('t')
    const all = await historyOf(chat(remote), 't')
    expect(all).toHaveLength(12)
    expect(await historyOf(ga, 't')).toEqual(all)
    expect(await historyOf(gb, 't')).toEqual(all)
  })
})

describe('sync cut off and retried', () => {
  /** A peer whose pushes and head moves fail after `budget` successful calls, as a dropped network would. */
  function flaky(inner: SyncPeer, budget: { left: number }): SyncPeer {
    const gate = () => {
      if (budget.left-- <= 0) throw Object.assign(new Error('network dropped'), { name: 'TypeError' })
    }
    return {
      name: 'flaky',
      pull: async (t, s) => (gate(), inner.pull(t, s)),
      has: async (t, ids) => (gate(), inner.has(t, ids)),
      push: async (t, c) => {
        gate()
        const r = await inner.push(t, c)
        gate() // the answer is lost after the commit landed
        return r
      },
      moveHead: async (t, id, e) => (gate(), inner.moveHead(t, id, e)),
    }
  }

  it('never duplicates, loses or reorders a checkpoint, wherever the cut falls', async () => {
    // A reference run with no cuts, then the same with a cut after every possible call.
    for (let cut = 0; cut < 12; cut++) {
      const [a, remote] = [createMemoryAdapter(), createMemoryAdapter()]
      const ga = chat(a, 4)
      for (let i = 0; i < 6; i++) await say(ga, 't', `m${i}`)
      const budget = { left: cut }
      const r1 = await createSync({ local: a, remote: flaky(historyPeer(remote), budget) }).syncThread('t')
      if (r1.error) expect(r1.error.code).toBe('STORAGE_FAILED')
      const r2 = await createSync({ local: a, remote }).syncThread('t')
      expect(r2.error).toBeUndefined()
      expect(await historyOf(chat(remote), 't')).toEqual(await historyOf(ga, 't'))
      expect(await headOf(chat(remote), 't')).toBe(await headOf(ga, 't'))
    }
  })
  /** The remote as a tab saw it when it was closed: the head move lands (or not), and no answer comes back. */
  function closedAfterMove(inner: SyncPeer, landed: boolean): SyncPeer {
    return {
      name: 'closed',
      pull: (t, s) => inner.pull(t, s),
      has: (t, ids) => inner.has(t, ids),
      push: (t, c) => inner.push(t, c),
      moveHead: async (t, id, e) => {
        if (landed) await inner.moveHead(t, id, e)
        throw Object.assign(new Error('tab closed'), { name: 'TypeError' })
      },
    }
  }
  /** Checkpoint ids of a thread, oldest first. */
  const ids = async (g: Chat, t: string) => (await historyOf(g, t)).map((c) => (c as { id: string }).id)

  for (const landed of [true, false]) {
    it(`a tab closed while its sync moved the remote's head (${landed ? 'the move landed' : 'it did not'}), then a fork on this device: no conflict, the fork stays the head`, async () => {
      const [a, remote] = [createMemoryAdapter(), createMemoryAdapter()]
      const ga = chat(a)
      await say(ga, 't', 'one')
      await say(ga, 't', 'two')
      const sync = createSync({ local: a, remote })
      expect((await sync.syncThread('t')).error).toBeUndefined()
      await say(ga, 't', 'three')
      const before = await headOf(ga, 't')
      expect((await createSync({ local: a, remote: closedAfterMove(historyPeer(remote), landed) }).syncThread('t')).error).toBeDefined()
      if (landed) expect(await headOf(chat(remote), 't')).toBe(before)
      // The user forks from the first turn and runs on from the fork.
      const fork = await ga.updateState({ threadId: 't', checkpointId: (await ids(ga, 't'))[2] as string }, { messages: ['forked'] })
      await say(ga, 't', 'after the fork')
      const head = await headOf(ga, 't')
      const r = await sync.syncThread('t')
      expect(r.error).toBeUndefined()
      expect(r.conflict).toBeUndefined()
      expect(r.head).toBe(head)
      expect(await headOf(ga, 't')).toBe(head)
      expect(await headOf(chat(remote), 't')).toBe(head)
      expect(await ids(chat(remote), 't')).toEqual(await ids(ga, 't'))
      expect(await ids(ga, 't')).toContain(fork.checkpointId)
    })
  }

  it('a real divergence after such a cut is still a conflict: another device moved the remote on meanwhile', async () => {
    const [a, b, remote] = [createMemoryAdapter(), createMemoryAdapter(), createMemoryAdapter()]
    const [ga, gb] = [chat(a), chat(b)]
    await say(ga, 't', 'one')
    const [syncA, syncB] = [createSync({ local: a, remote }), createSync({ local: b, remote })]
    await syncA.syncThread('t')
    await syncB.syncThread('t')
    await say(ga, 't', 'a1')
    await createSync({ local: a, remote: closedAfterMove(historyPeer(remote), true) }).syncThread('t')
    await syncB.syncThread('t')
    await say(gb, 't', 'b1')
    await syncB.syncThread('t')
    await say(ga, 't', 'a2')
    const r = await syncA.syncThread('t')
    expect(r.conflict).toBeDefined()
    expect(r.head).toBe(await headOf(chat(remote), 't'))
  })
})

describe('bad input changes nothing', () => {
  it('a remote answering records that do not decode or do not fit: typed error, local history as it was', async () => {
    const [a, remote] = [createMemoryAdapter(), createMemoryAdapter()]
    const ga = chat(a)
    await say(ga, 't', 'keep me')
    const before = await historyOf(ga, 't')
    const head = await headOf(ga, 't')
    const lying = (changes: unknown[]): SyncPeer => ({
      name: 'lying',
      pull: async () => ({ marks: { head: 'zzzzzzzzzzzzzzzz', rev: 'x' }, changes: changes as never }),
      has: async () => [],
      push: async () => ({ added: 0, prevRev: undefined }),
      moveHead: async () => ({ rev: 'x', prevRev: undefined }),
    })
    const cases: unknown[][] = [
      [{ id: 'zzzzzzzzzzzzzzzz', text: 'not json' }],
      [{ id: 'zzzzzzzzzzzzzzzz', text: '{"s":1,"n":[],"c":{"messages":{"a":["x"]}},"p":"0000000000000000"}' }],
      [{ id: 'zzzzzzzzzzzzzzzz', text: `{"s":9,"n":[],"p":"${head}","c":{"messages":{"zz":1}}}` }],
      [{ id: 'zzzzzzzzzzzzzzzz', text: `{"s":9,"n":[],"p":"${head}","c":{}}`, pending: [['001', 'nope']] }],
      [{ id: '../../etc', text: '{}' }],
    ]
    const sync = createSync({ local: a, remote: historyPeer(remote) })
    await sync.syncThread('t')
    for (const changes of cases) {
      const r = await createSync({ local: a, remote: lying(changes) }).syncThread('t')
      expect(r.error?.code, JSON.stringify(changes)).toBe('CORRUPT_RECORD')
      expect(r.error?.message).toMatch(/received by sync/)
      expect(await historyOf(ga, 't')).toEqual(before)
      expect(await headOf(ga, 't')).toBe(head)
    }
    // And the real remote still syncs afterwards.
    await say(ga, 't', 'more')
    expect(await sync.syncThread('t')).toMatchObject({ pushed: 3 })
  })

  it('a full store on either side: QUOTA_EXCEEDED in the result and on status, both histories intact, the next sync goes on', async () => {
    const [a, remote] = [createMemoryAdapter(), createMemoryAdapter()]
    const full = { local: false, remote: false }
    const quota = (inner: StorageAdapter, side: keyof typeof full): StorageAdapter => ({
      ...inner,
      name: inner.name,
      limits: inner.limits,
      get: (t, k) => inner.get(t, k),
      scan: (t, r) => inner.scan(t, r),
      threads: (o) => inner.threads(o),
      deleteThread: (t) => inner.deleteThread(t),
      commit: async (t, b, g) => {
        if (full[side]) throw adapterError(inner.name, 'QUOTA_EXCEEDED', 'the store is full', { thread: t })
        return inner.commit(t, b, g)
      },
    })
    const ga = chat(a)
    await say(ga, 't', 'one')
    const sync = createSync({ local: quota(a, 'local'), remote: quota(remote, 'remote') })
    await sync.syncThread('t')
    const gr = chat(remote)
    await say(ga, 't', 'two')
    await say(gr, 't', 'three') // the remote advanced too: a pull is due
    for (const side of ['remote', 'local'] as const) {
      full[side] = true
      const [localBefore, remoteBefore] = [await historyOf(ga, 't'), await historyOf(gr, 't')]
      const r = await sync.syncThread('t')
      expect(r.error?.code).toBe('QUOTA_EXCEEDED')
      expect(sync.status).toMatchObject({ state: 'error', error: { code: 'QUOTA_EXCEEDED' } })
      expect(await historyOf(ga, 't')).toEqual(localBefore)
      if (side === 'remote') expect(await historyOf(gr, 't')).toEqual(remoteBefore)
      full[side] = false
    }
    const r = await sync.syncThread('t')
    expect(r.error).toBeUndefined()
    expect(sync.status).toMatchObject({ state: 'idle', error: undefined })
    expect(await historyOf(ga, 't')).toEqual(await historyOf(gr, 't'))
  })

  it('refuses bad options with INVALID_ARGUMENT', () => {
    const local = createMemoryAdapter()
    expect(() => createSync({ local, remote: {} as never })).toThrow(/remote/)
    expect(() => createSync({ local: undefined as never, remote: local })).toThrow(/local/)
    expect(() => createSync({ local, remote: local, policy: 'newest' as never })).toThrow(/policy/)
  })
})
