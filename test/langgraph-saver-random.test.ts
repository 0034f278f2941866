/**
 * @module Random checkpointer histories written to `MemorySaver` and to `EdgegraphSaver` alike (forks, several threads
 * and namespaces with odd characters, values appended to, rewritten and removed, a checkpoint stored twice, pending
 * writes of several tasks): every `getTuple` and `list` must read back what MemorySaver does, with snapshots taken
 * always, by the default policy or never, and with every value split into chunks. Then the stored form: thread names
 * and damaged values.
 */
import { MemorySaver, uuid6, type ChannelVersions, type Checkpoint, type CheckpointListOptions, type CheckpointMetadata, type CheckpointTuple, type PendingWrite } from '@langchain/langgraph-checkpoint'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createMemoryAdapter } from '../adapters/memory.js'
import type { StorageAdapter } from '../src/checkpoint/adapter.js'
import { isEdgegraphError } from '../src/errors.js'
import { EdgegraphSaver, type EdgegraphSaverOptions } from '../src/langgraph.js'
import { threadIdOf, threadName } from '../src/langgraph/keys.js'
import { collect } from './helpers.js'

const THREADS = ['t', 'ü/../x', 'a_b.c:d', '1']
const NAMESPACES = ['', 'sub:1', 'p|q:ü!"']
const CHANNELS = ['messages', 'count', 'doc', '__pregel_tasks']
const TASKS = ['task-a', 'task,b', 'tâche']

const leaf = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.double({ noNaN: true }))
const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.constantFrom('a', 'b', '$t', 'lc', '__proto__x'), tie('value'), { maxKeys: 3 })),
})).value
const bigText = fc.integer({ min: 0, max: 9 }).map((n) => `${n}`.repeat(300))

/** A change to one channel of the parent's values. */
const change = fc.record({
  channel: fc.constantFrom(...CHANNELS),
  kind: fc.constantFrom('append', 'append', 'append', 'set', 'truncate', 'delete'),
  value: fc.oneof(json, bigText, fc.constant(new Uint8Array([1, 2, 3])), fc.constant(new Map([['k', 1]]))),
})

const op = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('put' as const), thread: fc.nat(THREADS.length - 1), ns: fc.nat(NAMESPACES.length - 1), parent: fc.option(fc.nat(), { freq: 4 }), changes: fc.array(change, { maxLength: 3 }), extraVersions: fc.boolean(), source: fc.constantFrom('input', 'loop', 'update', 'fork') }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('writes' as const), target: fc.nat(), task: fc.constantFrom(...TASKS), path: fc.option(fc.constantFrom('', '~__pregel_pull, a', '~__pregel_push, 0')), writes: fc.array(fc.tuple(fc.constantFrom('messages', 'count', '__error__', '__interrupt__'), json), { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reput' as const), target: fc.nat(), changes: fc.array(change, { minLength: 1, maxLength: 2 }) }) },
)

type Op = typeof op extends fc.Arbitrary<infer T> ? T : never

interface Stored {
  thread: string
  ns: string
  id: string
  parent: string | undefined
  values: Record<string, unknown>
  versions: Record<string, number>
}

/** The values after `changes`, and the channels they changed. */
function apply(values: Record<string, unknown>, changes: { channel: string; kind: string; value: unknown }[]): { values: Record<string, unknown>; changed: Set<string> } {
  const out = { ...values }
  const changed = new Set<string>()
  for (const { channel, kind, value } of changes) {
    const current = out[channel]
    if (kind === 'delete') {
      if (!(channel in out)) continue
      delete out[channel]
    } else if (kind === 'append') out[channel] = [...(Array.isArray(current) ? current : []), value]
    else if (kind === 'truncate') out[channel] = Array.isArray(current) ? current.slice(0, Math.floor(current.length / 2)) : []
    else out[channel] = value
    changed.add(channel)
  }
  return { values: out, changed }
}

async function runHistory(ops: Op[], adapter: StorageAdapter, options: EdgegraphSaverOptions): Promise<void> {
  const reference = new MemorySaver()
  const writer = new EdgegraphSaver(adapter, options)
  const stored: Stored[] = []
  for (const o of ops) {
    if (o.kind === 'put' || o.kind === 'reput') {
      const again = o.kind === 'reput' ? stored[o.target % Math.max(1, stored.length)] : undefined
      if (o.kind === 'reput' && !again) continue
      const thread = again?.thread ?? THREADS[(o as { thread: number }).thread] as string
      const ns = again?.ns ?? NAMESPACES[(o as { ns: number }).ns] as string
      const candidates = stored.filter((s) => s.thread === thread && s.ns === ns)
      const parent = again ? stored.find((s) => s.id === again.parent) : o.kind === 'put' && o.parent !== null ? candidates[o.parent % Math.max(1, candidates.length)] : undefined
      const { values, changed } = apply(parent?.values ?? {}, o.changes)
      // As LangGraph does: a changed channel gets a higher version and is in newVersions; the others keep the parent's.
      const top = Math.max(0, ...Object.values(parent?.versions ?? {}))
      const versions: Record<string, number> = {}
      const newVersions: ChannelVersions = {}
      for (const channel of Object.keys(values)) {
        versions[channel] = !parent || changed.has(channel) || parent.versions[channel] === undefined ? top + 1 : (parent.versions[channel] as number)
        if (versions[channel] !== parent?.versions[channel] || (o.kind === 'put' && o.extraVersions)) newVersions[channel] = versions[channel] as number
      }
      const id = again?.id ?? uuid6(stored.length)
      const checkpoint: Checkpoint = { v: 4, id, ts: new Date(stored.length * 1000).toISOString(), channel_values: values, channel_versions: versions, versions_seen: { agent: { ...versions } } }
      const metadata = { source: o.kind === 'put' ? o.source : 'update', step: stored.length, parents: {}, note: o.changes.length } as CheckpointMetadata
      const config = { configurable: { thread_id: thread, checkpoint_ns: ns, checkpoint_id: parent?.id } }
      expect(await writer.put(config, checkpoint, metadata, newVersions)).toEqual(await reference.put(config, checkpoint, metadata))
      if (again) Object.assign(again, { values, versions })
      else stored.push({ thread, ns, id, parent: parent?.id, values, versions })
    } else {
      const target = stored[o.target % Math.max(1, stored.length)]
      if (!target) continue
      const config = { configurable: { thread_id: target.thread, checkpoint_ns: target.ns, checkpoint_id: target.id } }
      const writes = o.writes as PendingWrite[]
      await reference.putWrites(config, writes, o.task, o.path ?? undefined)
      await writer.putWrites(config, writes, o.task, o.path ?? undefined)
    }
  }
  // Every checkpoint, through the saver that wrote it and through a fresh one (nothing cached: every doc rebuilt
  // from the records), every thread's and namespace's latest, and listings with each option.
  const saver = new EdgegraphSaver(adapter, options)
  for (const s of stored) {
    const config = { configurable: { thread_id: s.thread, checkpoint_ns: s.ns, checkpoint_id: s.id } }
    const expected = await reference.getTuple(config)
    expect(await new EdgegraphSaver(adapter, options).getTuple(config)).toEqual(expected)
    expect(await writer.getTuple(config)).toEqual(expected)
  }
  for (const thread of THREADS) {
    for (const ns of NAMESPACES) {
      const config = { configurable: { thread_id: thread, checkpoint_ns: ns } }
      expect(await saver.getTuple(config)).toEqual(await reference.getTuple(config))
      const all = await collect(reference.list(config))
      expect(await collect(saver.list(config))).toEqual(all)
      const before = all[Math.floor(all.length / 2)]?.config ?? {}
      const optionSets: CheckpointListOptions[] = [{ limit: 2 }, { before }, { before, limit: 1 }, { filter: { source: 'loop' } }, { filter: { step: stored.length - 1 } }]
      for (const options of optionSets) {
        expect(await collect(saver.list(config, options))).toEqual(await collect(reference.list(config, options)))
      }
    }
    const acrossNamespaces = { configurable: { thread_id: thread } }
    expect(sorted(await collect(saver.list(acrossNamespaces)))).toEqual(sorted(await collect(reference.list(acrossNamespaces))))
  }
  expect(sorted(await collect(saver.list({})))).toEqual(sorted(await collect(reference.list({}))))
}

const sorted = (tuples: CheckpointTuple[]) => tuples.map((t) => [JSON.stringify([t.config.configurable?.thread_id, t.config.configurable?.checkpoint_ns, t.checkpoint.id]), t] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

describe('EdgegraphSaver against MemorySaver on random histories', () => {
  const history = fc.array(op, { minLength: 1, maxLength: 40 })
  for (const [name, adapter, options] of [
    ['default snapshots', () => createMemoryAdapter(), {}],
    ['a snapshot at every checkpoint', () => createMemoryAdapter(), { snapshotFactor: 1 }],
    ['no snapshots after the first, values in 80-byte chunks', () => createMemoryAdapter({ maxValueBytes: 80 }), { snapshotFactor: 1e9 }],
  ] as const) {
    it(`reads back what MemorySaver does: ${name}`, { timeout: 60_000 }, async () => {
      await fc.assert(
        fc.asyncProperty(history, (ops) => runHistory(ops, adapter(), options)),
        { numRuns: 40 },
      )
    })
  }
})

describe('EdgegraphSaver stored form', () => {
  it('names any thread id as an adapter thread every adapter takes (the Worker: letters, digits, "._:/-"), and back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (id) => {
        const name = threadName(id)
        expect(name).toMatch(/^\.langgraph\/[A-Za-z0-9_-]*$/)
        expect(threadIdOf(name)).toBe(id)
      }),
      { numRuns: 500 },
    )
  })

  it('reads a damaged record, chunk or write as CORRUPT_RECORD, never as other state', async () => {
    const adapter = createMemoryAdapter({ maxValueBytes: 120 })
    const saver = new EdgegraphSaver(adapter)
    let config = { configurable: { thread_id: 'damaged', checkpoint_ns: '', checkpoint_id: undefined as string | undefined } }
    const ids: string[] = []
    for (let step = 0; step < 6; step++) {
      const values = { log: Array.from({ length: step + 1 }, (_, i) => `entry ${i} `.repeat(step % 3 === 0 ? 20 : 1)), step }
      const checkpoint: Checkpoint = { v: 4, id: uuid6(step), ts: new Date(step).toISOString(), channel_values: values, channel_versions: { log: step + 1, step: step + 1 }, versions_seen: {} }
      const stored = await saver.put(config, checkpoint, { source: 'loop', step, parents: {} }, { log: step + 1, step: step + 1 })
      await saver.putWrites(stored, [['log', [`write ${step} `.repeat(10)]]], 'task')
      config = { configurable: { thread_id: 'damaged', checkpoint_ns: '', checkpoint_id: checkpoint.id } }
      ids.push(checkpoint.id)
    }
    const read = (id: string) => new EdgegraphSaver(adapter).getTuple({ configurable: { thread_id: 'damaged', checkpoint_ns: '', checkpoint_id: id } })
    const intact = await Promise.all(ids.map(read))
    const thread = threadName('damaged')
    let caught = 0
    for await (const [key, value] of adapter.scan(thread)) {
      for (const at of new Set([0, 5, Math.floor(value.length / 2), value.length - 1].filter((i) => i < value.length))) {
        const damaged = value.slice()
        damaged[at] = (damaged[at] as number) ^ 0x20
        await adapter.commit(thread, { put: [[key, damaged]] })
        let failed = 0
        for (const [i, id] of ids.entries()) {
          try {
            expect(await read(id)).toEqual(intact[i])
          } catch (err) {
            if (!isEdgegraphError(err, 'CORRUPT_RECORD')) throw err
            failed++
          }
        }
        expect(failed, `damage at byte ${at} of ${key} went unnoticed`).toBeGreaterThan(0)
        caught++
        await adapter.commit(thread, { put: [[key, value]] })
      }
    }
    expect(caught).toBeGreaterThan(40)
  })
})
