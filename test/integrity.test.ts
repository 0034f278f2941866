/**
 * Integrity (issue 13): every stored value carries a checksum, so a flipped or truncated byte anywhere in a thread
 * reads as CORRUPT_RECORD naming the thread and checkpoint, never as other state; what the damage does not touch
 * still reads exactly as before. Also: a pack that keeps failing is not retried on every step.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Command, END, START, Send, StateGraph, isEdgegraphError, type StateSnapshot, type StorageAdapter } from '../src/index.js'
import { EdgegraphError } from '../src/errors.js'
import { createMemoryAdapter, type MemoryAdapter } from '../adapters/memory.js'
import { createStore } from '../src/store/index.js'
import { fnv1a, headBytes, openText, sealText, sum32 } from '../src/checkpoint/storage.js'
import { nextCheckpointId } from '../src/checkpoint/ids.js'
import { appendList, collect, over, storedText } from './helpers.js'
import { isPackKey } from '../src/checkpoint/keys.js'

const T = 'fuzz'

/** A graph with an append list (deltas, packs), a last-value note (sometimes big: chunks), Send fan-out and interrupts. */
function graph(adapter: StorageAdapter) {
  return new StateGraph({ log: appendList, note: { default: () => '' }, ask: { default: () => false } })
    .addNode('plan', (s) => ({ log: [`plan ${s.log.length}`] }))
    .addNode('work', (arg) => ({ log: [`work ${(arg as unknown as { i: number }).i}`] }))
    .addNode('review', (s, ctx) => (s.ask ? { log: [`answer ${ctx.interrupt<string>('ok?')}`], ask: false } : {}))
    .addEdge(START, 'plan')
    .addConditionalEdges('plan', (s) => [0, 1].map((i) => new Send('work', { i: i + s.log.length })), ['work'])
    .addEdge('work', 'review')
    .addEdge('review', END)
    .compile({ checkpointer: { adapter, packSize: 4 } })
}

type Op = { kind: 'turn'; big: boolean; ask: boolean } | { kind: 'fork'; pick: number } | { kind: 'resume' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('turn' as const), big: fc.boolean(), ask: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fork' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resume' as const) }) },
)

async function play(adapter: StorageAdapter, ops: Op[]): Promise<void> {
  const g = graph(adapter)
  for (const [i, op] of ops.entries()) {
    const state = await g.getState({ threadId: T }).catch(() => undefined)
    if (op.kind === 'resume' && state?.interrupts.length) await g.invoke(new Command({ resume: `yes ${i}` }), { threadId: T })
    else if (op.kind === 'fork' && state) {
      const all = await collect(g.getStateHistory({ threadId: T }))
      await g.updateState((all[op.pick % all.length] as StateSnapshot<unknown>).config, { note: `fork ${i}` })
    } else if (!state?.interrupts.length) {
      await g.invoke({ log: [`in ${i}`], note: op.kind === 'turn' && op.big ? `big ${i} ${'é€x'.repeat(700)}` : `n ${i}`, ask: op.kind === 'turn' && op.ask }, { threadId: T })
    }
  }
}

/** An adapter that records which keys each read returned. */
function reading(inner: StorageAdapter) {
  let keys = new Set<string>()
  const adapter = over(inner, {
    async get(t, ks) {
      const out = await inner.get(t, ks)
      ks.forEach((k, i) => out[i] !== undefined && keys.add(k))
      return out
    },
    async *scan(t, r) {
      for await (const e of inner.scan(t, r)) {
        keys.add(e[0])
        yield e
      }
    },
  })
  return { adapter, track: () => (keys = new Set()), read: () => keys }
}

/** A small PRNG, so each history's damages are reproducible from its seed. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * n
  }
}

/** Reads checkpoint `id` on a fresh graph: its values, next and interrupts, or the error. */
async function readCheckpoint(adapter: StorageAdapter, id: string | undefined): Promise<{ ok: unknown } | { err: unknown }> {
  try {
    const s = await graph(adapter).getState(id === undefined ? { threadId: T } : { threadId: T, checkpointId: id })
    return { ok: { values: s.values, next: s.next, interrupts: s.interrupts, tasks: s.tasks.map((t) => t.name) } }
  } catch (err) {
    return { err }
  }
}

const CASES_PER_HISTORY = 400
const HISTORIES = 26

describe('integrity', () => {
  it(`a flipped or truncated byte in any stored value is CORRUPT_RECORD naming the thread and checkpoint; undamaged checkpoints read as before (${HISTORIES * CASES_PER_HISTORY} cases)`, async () => {
    let cases = 0
    let detected = 0
    let untouchedReads = 0
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 6, maxLength: 16 }), fc.integer(), async (ops, seed) => {
        const memory: MemoryAdapter = createMemoryAdapter({ maxValueBytes: 1024 })
        await play(memory, ops)
        const { adapter, track, read } = reading(memory)
        const ids = (await collect(graph(memory).getStateHistory({ threadId: T }))).map((s) => s.config.checkpointId)
        // What each checkpoint reads, and what it reads as, before any damage.
        const reads = new Map<string, Set<string>>()
        const before = new Map<string, unknown>()
        for (const id of ids) {
          track()
          const r = await readCheckpoint(adapter, id)
          expect(r).toHaveProperty('ok')
          before.set(id, (r as { ok: unknown }).ok)
          reads.set(id, read())
        }
        const stored = await collect(memory.scan(T))
        const random = prng(seed)
        for (let c = 0; c < CASES_PER_HISTORY; c++) {
          const [key, value] = stored[Math.floor(random(stored.length))] as [string, Uint8Array]
          const damaged = new Uint8Array(value)
          let what: string
          if (value.length > 0 && random(3) >= 1) {
            const at = Math.floor(random(value.length))
            damaged[at] = (damaged[at] as number) ^ (1 + Math.floor(random(255)))
            what = `byte ${at} flipped`
          } else {
            what = `truncated to ${Math.floor(random(value.length))} bytes`
          }
          const bytes = what.startsWith('truncated') ? damaged.subarray(0, Number(what.split(' ')[2])) : damaged
          await memory.commit(T, { put: [[key, bytes]] })
          cases++
          // The checkpoint whose read must use the damaged value: its record, its pack's oldest record, the owner of a
          // chunk or of pending writes; the head's damage shows on reading the thread's current state.
          const own = key.startsWith('k/') ? key.slice(2, key.lastIndexOf('/')) : key
          const owner = own === 'h' ? undefined : (own.split('/')[1] as string)
          const untouched = ids.filter((id) => !reads.get(id)?.has(key))
          const checks: [id: string | undefined, must: 'fail' | 'same' | 'either'][] = [[owner, 'fail'], ...pick(untouched, 1, random).map((id): [string, 'same'] => [id, 'same']), ...pick(ids, 1, random).map((id): [string, 'either'] => [id, 'either'])]
          for (const [id, must] of checks) {
            const r = await readCheckpoint(memory, id)
            const where = `${key} ${what}, reading ${id ?? 'the head'}`
            if ('ok' in r) {
              // Read as before, or not at all: never as other state.
              expect(must, `${where}: read despite the damage`).not.toBe('fail')
              expect(r.ok, `${where}: read differently`).toStrictEqual(before.get(id ?? (ids[0] as string)))
              if (must === 'same') untouchedReads++
            } else {
              const err = r.err
              expect(must, `${where}: failed though it does not read ${key}: ${String(err)}`).not.toBe('same')
              expect(err, `${where}: ${String(err)}`).toBeInstanceOf(EdgegraphError)
              expect((err as EdgegraphError).code, `${where}: ${(err as Error).message}`).toBe('CORRUPT_RECORD')
              expect((err as EdgegraphError).context.threadId).toBe(T)
              if (owner !== undefined && must === 'fail') expect((err as EdgegraphError).context.checkpointId, (err as Error).message).toBe(owner)
              if (must === 'fail') detected++
            }
          }
          await memory.commit(T, { put: [[key, value]] })
        }
      }),
      { numRuns: HISTORIES },
    )
    expect(cases).toBe(HISTORIES * CASES_PER_HISTORY)
    // Every damage was detected where it had to be (100 %); and most cases also read an untouched checkpoint back.
    expect(detected).toBe(cases)
    expect(untouchedReads).toBeGreaterThan(cases / 4)
  }, 300_000)
})

describe('the cross-thread store', () => {
  it('a flipped or truncated byte in any stored item (record or chunk) is CORRUPT_RECORD for that item; the others read as before (2,000 cases)', async () => {
    const memory = createMemoryAdapter({ maxValueBytes: 512 })
    const store = createStore(memory)
    const items = Array.from({ length: 12 }, (_, i) => ({ key: `k${i}`, value: { text: i % 3 === 0 ? `long ${'é€x'.repeat(120 + i)}` : `short ${i}`, n: i } }))
    for (const { key, value } of items) await store.put(['docs'], key, value)
    const thread = (await collect(memory.threads()))[0]?.thread as string
    const stored = await collect(memory.scan(thread))
    const random = prng(7)
    let detected = 0
    for (let c = 0; c < 2000; c++) {
      const [key, value] = stored[Math.floor(random(stored.length))] as [string, Uint8Array]
      const bad = new Uint8Array(value)
      const truncate = value.length === 0 || random(3) < 1
      if (!truncate) {
        const at = Math.floor(random(value.length))
        bad[at] = (bad[at] as number) ^ (1 + Math.floor(random(255)))
      }
      await memory.commit(thread, { put: [[key, truncate ? bad.subarray(0, Math.floor(random(value.length))) : bad]] })
      for (const { key: k, value: v } of items) {
        const fresh = createStore(memory)
        const owns = key.endsWith(`!${k}`) || key.includes(`!${k}!`)
        try {
          const got = await fresh.get(['docs'], k)
          expect(owns, `${key} damaged, yet item ${k} read`).toBe(false)
          expect(got?.value, `${key} damaged, item ${k} read as other state`).toEqual(v)
        } catch (err) {
          expect(isEdgegraphError(err, 'CORRUPT_RECORD'), `${key} damaged, item ${k}: ${String(err)}`).toBe(true)
          if (owns) detected++
        }
      }
      await memory.commit(thread, { put: [[key, value]] })
    }
    // Every damage was detected on the item it belongs to.
    expect(detected).toBe(2000)
  })

  it('a write that failed without a typed answer says it may have landed', async () => {
    const memory = createMemoryAdapter()
    const failing = over(memory, { commit: async () => Promise.reject(new Error('connection reset')) })
    const err = await createStore(failing).put(['a'], 'b', { x: 1 }).catch((e: unknown) => e)
    expect(isEdgegraphError(err, 'STORAGE_FAILED')).toBe(true)
    expect((err as Error).message).toContain('may or may not have landed')
  })
})

describe('values written before checksums', () => {
  it('still read, and the thread goes on (its bare head guards the next commit)', async () => {
    const memory = createMemoryAdapter()
    await play(memory, [{ kind: 'turn', big: false, ask: false }, { kind: 'turn', big: true, ask: false }, { kind: 'turn', big: false, ask: false }])
    const before = await collect(graph(memory).getStateHistory({ threadId: T }))
    // Rewrite every value as it was stored before checksums: plain text, the head a bare id.
    for (const [key, value] of await collect(memory.scan(T))) {
      if (key.startsWith('k/') || new TextDecoder().decode(value).startsWith('#')) continue
      await memory.commit(T, { put: [[key, new TextEncoder().encode(storedText(value))]] })
    }
    expect(new TextDecoder().decode((await memory.get(T, ['h']))[0])).toBe(before[0]?.config.checkpointId)
    expect(await collect(graph(memory).getStateHistory({ threadId: T }))).toStrictEqual(before)
    const result = await graph(memory).invoke({ log: ['later'] }, { threadId: T })
    expect(result.log).toContain('later')
    expect(await collect(graph(memory).getStateHistory({ threadId: T }))).toHaveLength(before.length + 4)
  })
})

describe('values checksummed with FNV-1a (written before sum32)', () => {
  it('still read, and the thread goes on', async () => {
    const memory = createMemoryAdapter()
    await play(memory, [{ kind: 'turn', big: false, ask: false }, { kind: 'turn', big: true, ask: false }, { kind: 'turn', big: false, ask: false }])
    const before = await collect(graph(memory).getStateHistory({ threadId: T }))
    // Rewrite every plain value ('$') as the older format stored it: '!', the FNV-1a of the same bytes.
    let rewritten = 0
    for (const [key, value] of await collect(memory.scan(T))) {
      if (value[0] !== 0x24) continue
      const old = value.slice()
      old[0] = 0x21
      new DataView(old.buffer).setUint32(1, fnv1a(old.subarray(5)))
      await memory.commit(T, { put: [[key, old]] })
      rewritten++
    }
    expect(rewritten).toBeGreaterThan(5)
    expect(await collect(graph(memory).getStateHistory({ threadId: T }))).toStrictEqual(before)
    expect((await graph(memory).invoke({ log: ['later'] }, { threadId: T })).log).toContain('later')
  })
})

describe('sum32', () => {
  it('sums long values as it always has, whatever their alignment (stored checksums must keep matching)', () => {
    // Values from the first word-wise sum, which copied unaligned values whole; it now copies 64 KiB at a time.
    const buffer = new Uint8Array(200_010)
    for (let i = 0; i < buffer.length; i++) buffer[i] = (i * 131 + (i >> 8)) & 255
    expect([sum32(buffer.subarray(0, 200_001)), sum32(buffer.subarray(5, 200_010)), sum32(buffer.subarray(3, 70_003))]).toEqual([3679829122, 2667188728, 2466414890])
  })

  it('changes with every single-bit flip and every cut, at any length and alignment', () => {
    let cases = 0
    for (let length = 0; length <= 41; length++) {
      for (const offset of [0, 1, 2, 3, 5]) {
        const buffer = new Uint8Array(offset + length)
        for (let i = 0; i < buffer.length; i++) buffer[i] = (i * 131 + length) & 0xff
        const bytes = buffer.subarray(offset)
        const sum = sum32(bytes)
        // The same bytes at an aligned start sum the same.
        expect(sum32(bytes.slice())).toBe(sum)
        for (let i = 0; i < length; i++) {
          for (let bit = 0; bit < 8; bit++) {
            bytes[i] = (bytes[i] as number) ^ (1 << bit)
            expect(sum32(bytes)).not.toBe(sum)
            bytes[i] = (bytes[i] as number) ^ (1 << bit)
            cases++
          }
        }
        for (let cut = 0; cut < length; cut++) expect(sum32(bytes.subarray(0, cut))).not.toBe(sum)
      }
    }
    expect(cases).toBeGreaterThan(30_000)
  })
})

describe('sealText', () => {
  it('stores any text as "$", the sum32 of its UTF-8 bytes and those bytes, in a buffer of its own (ASCII, 2-4 byte characters, lone surrogates)', () => {
    const utf8 = new TextEncoder()
    const pieces = ['a', '"', '\u0000', '\u007f', 'é', 'ß', '€', '中', '😀', '\ud800', '\udc00', 'x'.repeat(700)]
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 40 }), (parts) => {
        const text = parts.join('')
        const body = utf8.encode(text)
        const sealed = sealText(text)
        expect(sealed.byteLength).toBe(body.length + 5)
        expect(sealed.buffer.byteLength).toBe(sealed.byteLength)
        expect(sealed[0]).toBe(0x24)
        expect(new DataView(sealed.buffer).getUint32(1)).toBe(sum32(body))
        expect(sealed.subarray(5)).toEqual(body)
        expect(new TextDecoder().decode(openText(sealed))).toBe(new TextDecoder().decode(body))
      }),
      { numRuns: 2000, seed: 15 },
    )
  })
})

describe('the head', () => {
  it('is the UTF-8 of the FNV-1a hash of the id in hex, "!" and the id, as heads have always been written', () => {
    const utf8 = new TextEncoder()
    let id: string | undefined
    for (let k = 0; k < 500; k++) {
      id = nextCheckpointId(id, k % 7 === 0 ? Date.now() + k : undefined)
      const text = `${fnv1a(utf8.encode(id)).toString(16).padStart(8, '0')}!${id}`
      expect(headBytes(id)).toEqual(utf8.encode(text))
    }
    expect(new TextDecoder().decode(headBytes('0123456789a'))).toBe(`${fnv1a(utf8.encode('0123456789a')).toString(16).padStart(8, '0')}!0123456789a`)
  })
})

function pick<T>(list: T[], n: number, random: (n: number) => number): T[] {
  const out: T[] = []
  for (let i = 0; i < n && list.length > 0; i++) out.push(list[Math.floor(random(list.length))] as T)
  return out
}

describe('packing that keeps failing', () => {
  it('is tried again packSize steps later, not on every step; the run goes on', async () => {
    const memory = createMemoryAdapter()
    let packAttempts = 0
    const refusing = over(memory, {
      async commit(t, batch, guard) {
        if ((batch.put ?? []).some(([k]) => isPackKey(k))) {
          packAttempts++
          throw new EdgegraphError('QUOTA_EXCEEDED', 'no room for the pack')
        }
        return memory.commit(t, batch, guard)
      },
    })
    const steps = 60
    // An append list after a big first entry: every record is a small delta on its parent (never a snapshot), so
    // the loose chain grows by one a step. Packs run beside the steps: each step waits a timer turn, as a model call
    // would, so a pack attempt ends before the next is due.
    const chat = (adapter: StorageAdapter, until: number) =>
      new StateGraph({ log: appendList })
        .addNode('say', async (s) => {
          // 3 ms rather than 1: on a loaded machine a pack attempt that reads its records back can outlast 1 ms.
          await new Promise((resolve) => setTimeout(resolve, 3))
          return { log: [`said ${s.log.length}`] }
        })
        .addEdge(START, 'say')
        .addConditionalEdges('say', (s) => (s.log.length >= until ? END : 'say'))
        .compile({ checkpointer: { adapter, packSize: 5 } })
    expect((await chat(refusing, steps).invoke({ log: ['x'.repeat(5000)] }, { threadId: 'p', recursionLimit: 100 })).log).toHaveLength(steps)
    // 60 checkpoints: a first try once the chain passes 5, then one every 5 steps: about 11, not 55.
    expect(packAttempts).toBeGreaterThan(5)
    expect(packAttempts).toBeLessThanOrEqual(Math.ceil(steps / 5) + 1)
    expect((await collect(memory.scan('p', { from: 'a/', to: 'a0' }))).length).toBe(0)
    // Once packs fit again, the next run packs the long chain.
    await chat(memory, steps + 2).invoke({ log: ['again'] }, { threadId: 'p' })
    expect((await collect(memory.scan('p', { from: 'a/', to: 'a0' }))).length).toBeGreaterThan(0)
  })
})
