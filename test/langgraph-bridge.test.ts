/**
 * @module `EdgegraphSaver` (edgegraph/langgraph), LangGraph.js's checkpointer over edgegraph adapters: LangGraph's own
 * validation suite over the memory adapter, real LangGraph.js graphs run on it with every read compared with
 * `MemorySaver`'s, and a 200-turn chat run on each with the same state, history and the bytes each stored.
 */
import { AIMessage, HumanMessage, type BaseMessage } from '@langchain/core/messages'
import { Annotation, Command, END, MemorySaver, MessagesAnnotation, MessagesDeltaValue, START, Send, StateGraph, StateSchema, interrupt } from '@langchain/langgraph'
import { BaseCheckpointSaver, type ChannelVersions, type Checkpoint, type CheckpointListOptions, type CheckpointMetadata, type CheckpointTuple, type PendingWrite } from '@langchain/langgraph-checkpoint'
import { describe, expect, it } from 'vitest'
import { createMemoryAdapter } from '../adapters/memory.js'
import { withEncryption } from '../src/encryption.js'
import { EdgegraphSaver } from '../src/langgraph.js'
import { collect } from './helpers.js'
import { validateEdgegraphSaver } from './langgraph-validation.js'

type RunnableConfig = Parameters<BaseCheckpointSaver['getTuple']>[0]

validateEdgegraphSaver('memory', () => createMemoryAdapter())
// Every record and write above 64 bytes split into chunks.
validateEdgegraphSaver('memory, 64-byte values', () => createMemoryAdapter({ maxValueBytes: 64 }))
// Through edgegraph/encryption: every value sealed with AES-256-GCM.
validateEdgegraphSaver('memory, encrypted', () => withEncryption(createMemoryAdapter(), { keys: { k1: new Uint8Array(32).fill(7) }, current: 'k1' }))

/** The chat every test runs: one node answering each human message. A graph that used MemorySaver changes one line. */
function chat(checkpointer: BaseCheckpointSaver) {
  return new StateGraph(MessagesAnnotation)
    .addNode('agent', (s) => ({ messages: [reply(s.messages)] }))
    .addEdge(START, 'agent')
    .addEdge('agent', END)
    .compile({ checkpointer })
}

const words = 'the quick brown fox jumps over a lazy dog while seven agents negotiate about storage costs at the edge'.split(' ')
const text = (n: number, length: number) => Array.from({ length }, (_, i) => words[(n * 7 + i * 3) % words.length]).join(' ')
const human = (turn: number) => new HumanMessage({ id: `h-${turn}`, content: `Turn ${turn}: ${text(turn, 40)}` })
const reply = (messages: BaseMessage[]) => new AIMessage({ id: `a-${messages.length}`, content: `Answer to ${messages.length} messages: ${text(messages.length, 45)}` })
const thread = (id: string) => ({ configurable: { thread_id: id } })

/**
 * A checkpointer writing to MemorySaver and an EdgegraphSaver alike and reading from the EdgegraphSaver, after
 * checking that every read equals MemorySaver's: the graph runs on what the bridge gives back.
 */
class TeeSaver extends BaseCheckpointSaver {
  readonly reference = new MemorySaver()
  readonly saver: EdgegraphSaver
  reads = 0

  constructor(saver: EdgegraphSaver) {
    super()
    this.saver = saver
  }

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const expected = await this.reference.getTuple(config)
    const actual = await this.saver.getTuple(config)
    expect(actual).toEqual(expected)
    this.reads++
    return actual
  }

  async *list(config: RunnableConfig, options?: CheckpointListOptions): AsyncGenerator<CheckpointTuple> {
    const expected = await collect(this.reference.list(config, options))
    const actual = await collect(this.saver.list(config, options))
    // Both list newest first; across threads and namespaces MemorySaver goes by insertion, the bridge by key.
    const ordered = config.configurable?.thread_id !== undefined && config.configurable.checkpoint_ns !== undefined
    expect(ordered ? actual : sorted(actual)).toEqual(ordered ? expected : sorted(expected))
    this.reads += actual.length
    yield* actual
  }

  async put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig> {
    const expected = await this.reference.put(config, checkpoint, metadata)
    const actual = await this.saver.put(config, checkpoint, metadata, newVersions)
    expect(actual).toEqual(expected)
    return actual
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath?: string): Promise<void> {
    await this.reference.putWrites(config, writes, taskId, taskPath)
    await this.saver.putWrites(config, writes, taskId, taskPath)
  }

  async deleteThread(threadId: string): Promise<void> {
    await this.reference.deleteThread(threadId)
    await this.saver.deleteThread(threadId)
  }
}

const sorted = (tuples: CheckpointTuple[]) => [...tuples].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
const key = (t: CheckpointTuple) => JSON.stringify([t.config.configurable?.thread_id, t.config.configurable?.checkpoint_ns, t.checkpoint.id])

/** Everything stored in both, every thread and namespace: the same tuples. */
async function expectSameStore(tee: TeeSaver): Promise<void> {
  const all = await collect(tee.list({}))
  expect(all.length).toBeGreaterThan(0)
}

describe('real LangGraph.js graphs on EdgegraphSaver: every read equals MemorySaver’s', () => {
  it('a chat of 40 turns, its history, and a fork from an old checkpoint (time travel)', async () => {
    const tee = new TeeSaver(new EdgegraphSaver(createMemoryAdapter()))
    const graph = chat(tee)
    for (let turn = 0; turn < 40; turn++) await graph.invoke({ messages: [human(turn)] }, thread('chat'))
    const history = await collect(graph.getStateHistory(thread('chat')))
    expect(history).toHaveLength(120)
    expect((await graph.getState(thread('chat'))).values.messages).toHaveLength(80)

    // Time travel: run again from the checkpoint before the agent answered turn 10, and from an edited one.
    const before = history.find((s) => s.next[0] === 'agent' && s.values.messages.length === 21)
    expect(before).toBeDefined()
    const replayed = await graph.invoke(null, before?.config)
    expect(replayed.messages).toHaveLength(22)
    const edited = await graph.updateState(before?.config ?? {}, { messages: [new HumanMessage({ id: 'h-10', content: 'edited' })] })
    const forked = await graph.invoke(null, edited)
    expect(forked.messages.map((m) => m.content).slice(20)).toEqual(['edited', expect.stringContaining('Answer to 21 messages')])
    // The thread's head is the newest fork; the original branch is still listed.
    expect((await graph.getState(thread('chat'))).values.messages).toHaveLength(22)
    expect(await collect(graph.getStateHistory(thread('chat')))).toHaveLength(124)
    await expectSameStore(tee)
    expect(tee.reads).toBeGreaterThan(200)
  })

  it('interrupt() and Command({ resume }), also inside a subgraph (its own checkpoint namespace)', async () => {
    const tee = new TeeSaver(new EdgegraphSaver(createMemoryAdapter()))
    const Review = Annotation.Root({ draft: Annotation<string>(), approved: Annotation<string>() })
    const State = Annotation.Root({ ...Review.spec, log: Annotation<string[]>({ reducer: (a, b) => [...a, ...b], default: () => [] }) })
    const review = new StateGraph(Review)
      .addNode('ask', (s) => ({ approved: interrupt<{ draft: string }, string>({ draft: s.draft }) }))
      .addEdge(START, 'ask')
      .addEdge('ask', END)
      .compile()
    const graph = new StateGraph(State)
      .addNode('write', () => ({ draft: 'v1', log: ['wrote'] }))
      .addNode('direct', (s) => ({ approved: `${s.approved}+${interrupt<string, string>('again?')}` }))
      .addNode('review', review)
      .addEdge(START, 'write')
      .addEdge('write', 'review')
      .addEdge('review', 'direct')
      .addEdge('direct', END)
      .compile({ checkpointer: tee })

    const first = (await graph.invoke({ log: [] }, thread('hitl'))) as { __interrupt__?: { value: unknown }[] }
    expect(first.__interrupt__?.[0]?.value).toEqual({ draft: 'v1' })
    const paused = await graph.getState(thread('hitl'), { subgraphs: true })
    expect(paused.next).toEqual(['review'])
    expect(paused.tasks[0]?.state).toBeDefined()
    await graph.invoke(new Command({ resume: 'yes' }), thread('hitl'))
    expect((await graph.getState(thread('hitl'))).next).toEqual(['direct'])
    const done = await graph.invoke(new Command({ resume: 'sure' }), thread('hitl'))
    expect(done).toMatchObject({ draft: 'v1', approved: 'yes+sure', log: ['wrote'] })
    await collect(graph.getStateHistory(thread('hitl')))
    // The subgraph's checkpoints are in their own namespace, listed when the namespace is not given.
    const namespaces = new Set((await collect(tee.saver.list(thread('hitl')))).map((t) => t.config.configurable?.checkpoint_ns))
    expect([...namespaces].some((ns) => typeof ns === 'string' && ns.startsWith('review:'))).toBe(true)
    await expectSameStore(tee)
  })

  it('Send fan-out, a failing task and its retry: pending writes with task paths and errors', async () => {
    const tee = new TeeSaver(new EdgegraphSaver(createMemoryAdapter()))
    let failures = 1
    const State = Annotation.Root({ items: Annotation<number[]>(), results: Annotation<string[]>({ reducer: (a, b) => [...a, ...b], default: () => [] }) })
    const graph = new StateGraph(State)
      .addNode('plan', () => ({}))
      .addNode('work', (arg: { n: number }) => {
        if (arg.n === 2 && failures-- > 0) throw new Error('flaky worker')
        return { results: [`done ${arg.n}`] }
      })
      .addEdge(START, 'plan')
      .addConditionalEdges('plan', (s) => s.items.map((n) => new Send('work', { n })))
      .addEdge('work', END)
      .compile({ checkpointer: tee })

    await expect(graph.invoke({ items: [1, 2, 3] }, thread('fan'))).rejects.toThrow('flaky worker')
    const failed = await graph.getState(thread('fan'))
    expect(failed.tasks.some((t) => t.error)).toBe(true)
    const done = await graph.invoke(null, thread('fan'))
    expect([...done.results].sort()).toEqual(['done 1', 'done 2', 'done 3'])
    await collect(graph.getStateHistory(thread('fan')))
    await tee.deleteThread('fan')
    expect(await tee.saver.getTuple(thread('fan'))).toBeUndefined()
  })

  it("LangGraph's own delta channel (MessagesDeltaValue, snapshots and getDeltaChannelHistory) works on it too", async () => {
    const tee = new TeeSaver(new EdgegraphSaver(createMemoryAdapter()))
    const graph = new StateGraph(new StateSchema({ messages: MessagesDeltaValue }))
      .addNode('agent', (s) => ({ messages: [reply(s.messages)] }))
      .addEdge(START, 'agent')
      .addEdge('agent', END)
      .compile({ checkpointer: tee })
    for (let turn = 0; turn < 30; turn++) await graph.invoke({ messages: [human(turn)] }, thread('delta'))
    expect((await graph.getState(thread('delta'))).values.messages.map((m: BaseMessage) => m.id)).toEqual(Array.from({ length: 60 }, (_, i) => (i % 2 ? `a-${i}` : `h-${i / 2}`)))
    await collect(graph.getStateHistory(thread('delta')))
  })
})

describe('a 200-turn chat: MemorySaver swapped for EdgegraphSaver in one line', () => {
  it('has the same final state and history, in a fraction of the bytes', { timeout: 300_000 }, async () => {
    const turns = 200
    const run = async (checkpointer: BaseCheckpointSaver) => {
      const graph = chat(checkpointer)
      for (let turn = 0; turn < turns; turn++) await graph.invoke({ messages: [human(turn)] }, thread('long'))
      return { state: await graph.getState(thread('long')), history: await collect(graph.getStateHistory(thread('long'))) }
    }
    const memorySaver = new MemorySaver()
    const adapter = createMemoryAdapter()
    const langgraph = await run(memorySaver)
    const edgegraph = await run(new EdgegraphSaver(adapter))

    expect(edgegraph.state.values).toEqual(langgraph.state.values)
    expect(edgegraph.state.values.messages).toHaveLength(2 * turns)
    expect(edgegraph.history).toHaveLength(3 * turns)
    // Checkpoint and task ids are made fresh in each run: compared by order of appearance, timestamps left out.
    expect(normalized(edgegraph.history)).toEqual(normalized(langgraph.history))

    const stored = adapter.bytes()
    const reference = memorySaverBytes(memorySaver)
    const serde = memorySaver.serde
    let messageBytes = 0
    for (const m of edgegraph.state.values.messages as BaseMessage[]) messageBytes += (await serde.dumpsTyped(m))[1].length
    console.log(
      `${turns}-turn chat: EdgegraphSaver (memory adapter, keys + values) ${kb(stored)}, MemorySaver (checkpoint, metadata and write blobs) ${kb(reference)}: ` +
        `${(reference / stored).toFixed(0)}x less; ${(stored / messageBytes).toFixed(2)}x the ${kb(messageBytes)} of the messages as LangGraph serializes them`,
    )
    expect(reference / stored).toBeGreaterThan(20)
    expect(stored / messageBytes).toBeLessThan(6)
  })
})

/** Bytes MemorySaver holds serialized: its checkpoint, metadata and pending-write blobs. */
function memorySaverBytes(saver: MemorySaver): number {
  let n = 0
  for (const namespaces of Object.values(saver.storage)) {
    for (const checkpoints of Object.values(namespaces)) for (const [checkpoint, metadata] of Object.values(checkpoints)) n += checkpoint.length + metadata.length
  }
  for (const writes of Object.values(saver.writes)) for (const [, , value] of Object.values(writes)) n += value.length
  return n
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$|^[0-9a-f]{32}$/

/**
 * Each snapshot as JSON text, every generated id (checkpoints, tasks) replaced by its order of first appearance in
 * the history and timestamps left out. Text, so that comparing 600 snapshots of up to 400 messages stays cheap.
 */
function normalized(history: unknown[]): string[] {
  const ids = new Map<string, string>()
  return history.map((snapshot) =>
    JSON.stringify(snapshot, (key, v: unknown) => {
      if (key === 'ts' || key === 'createdAt') return undefined
      if (typeof v === 'string' && ID.test(v)) {
        if (!ids.has(v)) ids.set(v, `#${ids.size}`)
        return ids.get(v)
      }
      return v
    }),
  )
}
