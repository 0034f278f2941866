/**
 * Checkpoint ids: unique across writers of one thread (sync brings checkpoints of several devices together), sorted by
 * creation time, and the 11-character ids written before the random part keep loading, continuing and forking.
 */
import { describe, expect, it, vi } from 'vitest'

// Runs below write old-style (11-character) ids while `legacy.on` is set, the current ones after.
const legacy = vi.hoisted(() => ({ on: false }))
vi.mock('../src/checkpoint/ids.js', async (load) => {
  const real = await load<typeof import('../src/checkpoint/ids.js')>()
  return { ...real, nextCheckpointId: (after: string | undefined, now?: number) => (legacy.on ? real.nextCheckpointId(after, now).slice(0, 11) : real.nextCheckpointId(after, now)) }
})

const { idTime, isCheckpointId, nextCheckpointId } = await import('../src/checkpoint/ids.js')
const { collect, counter } = await import('./helpers.js')
const { createMemoryAdapter } = await import('../adapters/memory.js')

describe('checkpoint ids', () => {
  it('two writers in the same millisecond after the same checkpoint make different ids', () => {
    // 5 random base-36 characters: two writers collide with probability 1 in 60 million (here: 50 pairs).
    for (let i = 0; i < 50; i++) {
      const [a, b] = [nextCheckpointId('mwwiozoq000', 1_700_000_000_000), nextCheckpointId('mwwiozoq000', 1_700_000_000_000)]
      expect(a.slice(0, 11)).toBe(b.slice(0, 11))
      expect(a).not.toBe(b)
    }
  })

  it('sort by creation time, then by order within a millisecond, after both old and new ids', () => {
    const now = 1_700_000_000_000
    const first = nextCheckpointId(undefined, now)
    const second = nextCheckpointId(first, now)
    const later = nextCheckpointId(second, now + 1)
    expect([later, second, first].sort()).toEqual([first, second, later])
    expect(idTime(first)).toBe(now)
    // After an old 11-character id of the same millisecond, and a clock that went back.
    const old = first.slice(0, 11)
    expect(nextCheckpointId(old, now) > old).toBe(true)
    expect(nextCheckpointId(later, now - 5_000) > later).toBe(true)
  })

  it('are 16 characters of 0-9 a-z; 11 are still accepted, anything else is not', () => {
    const id = nextCheckpointId(undefined)
    expect(id).toMatch(/^[0-9a-z]{16}$/)
    expect(isCheckpointId(id)).toBe(true)
    expect(isCheckpointId(id.slice(0, 11))).toBe(true)
    for (const bad of [id.slice(0, 12), `${id}0`, id.toUpperCase(), 42, undefined]) expect(isCheckpointId(bad)).toBe(false)
  })

  it('a thread written with 11-character ids keeps loading, continues and forks with the new ones', async () => {
    const store = createMemoryAdapter()
    legacy.on = true
    const before = await counter(store, 3).invoke({ count: 0 }, { threadId: 't' })
    legacy.on = false
    const graph = counter(store, 6)
    const oldIds = (await collect(graph.getStateHistory({ threadId: 't' }))).map((s) => s.config.checkpointId)
    expect(oldIds.every((id) => id.length === 11)).toBe(true)
    expect(await graph.invoke(null, { threadId: 't' })).toEqual(before)
    expect((await graph.invoke({ count: 3 }, { threadId: 't' })).count).toBe(6)
    const forked = await graph.updateState({ threadId: 't', checkpointId: oldIds.at(-2) as string }, { count: 4 }, 'increment')
    expect(forked.checkpointId).toHaveLength(16)
    expect((await graph.invoke(null, { threadId: 't' })).count).toBe(6)
    const history = await collect(graph.getStateHistory({ threadId: 't' }))
    expect(history.filter((s) => s.config.checkpointId.length === 11).map((s) => s.config.checkpointId)).toEqual(oldIds)
    expect(history.map((s) => s.config.checkpointId)).toEqual(history.map((s) => s.config.checkpointId).sort().reverse())
  })
})
