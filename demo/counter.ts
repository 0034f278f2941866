/** The seed demo: a counter graph that survives a fresh graph object, a crash and step-by-step interrupts. */
import { END, START, StateGraph, isEdgegraphError, type StateSnapshot } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'

const store = createMemoryAdapter()
const threadId = 'demo-run'

/** The counter graph: increment until count >= 5. `failAt` makes the node throw once at that count. */
function counterGraph(options: { failAt?: number; interruptBefore?: 'increment'[] } = {}) {
  let failed = false
  return new StateGraph({ count: { default: () => 0 } })
    .addNode('increment', (s) => {
      if (s.count === options.failAt && !failed) {
        failed = true
        throw new Error(`simulated crash at count = ${s.count}`)
      }
      return { count: s.count + 1 }
    })
    .addEdge(START, 'increment')
    .addConditionalEdges('increment', (s) => (s.count >= 5 ? END : 'increment'))
    .compile({ checkpointer: store, ...(options.interruptBefore ? { interruptBefore: options.interruptBefore } : {}) })
}

const show = (s: StateSnapshot<{ count: number }>) =>
  `step ${String(s.metadata.step).padStart(2)}  ${s.metadata.source.padEnd(6)}  next ${JSON.stringify(s.next).padEnd(14)} values ${JSON.stringify(s.values)}`

console.log('1. Run the counter on thread "demo-run"')
console.log('   invoke({ count: 0 }) →', JSON.stringify(await counterGraph().invoke({ count: 0 }, { threadId })))

console.log('\n2. A fresh graph object on the same store resumes the thread')
console.log('   invoke(null) →', JSON.stringify(await counterGraph().invoke(null, { threadId })))

console.log('\n3. The thread\'s history, newest first')
for await (const s of counterGraph().getStateHistory({ threadId })) console.log('  ', show(s))

console.log('\n4. A run that crashes at count = 3, then resumes')
const crashing = counterGraph({ failAt: 3 })
try {
  await crashing.invoke({ count: 0 }, { threadId: 'demo-crash' })
} catch (err) {
  if (!isEdgegraphError(err, 'NODE_FAILED')) throw err
  console.log(`   invoke({ count: 0 }) threw ${err.code}: ${err.message}`)
}
const afterCrash = await crashing.getState({ threadId: 'demo-crash' })
console.log(`   getState after the crash: values ${JSON.stringify(afterCrash.values)}, next ${JSON.stringify(afterCrash.next)}, failed task: ${afterCrash.tasks[0]?.error?.message}`)
console.log('   invoke(null) →', JSON.stringify(await crashing.invoke(null, { threadId: 'demo-crash' })))

console.log('\n5. interruptBefore: ["increment"], stepping through with invoke(null)')
const stepping = counterGraph({ interruptBefore: ['increment'] })
let result = await stepping.invoke({ count: 0 }, { threadId: 'demo-steps' })
console.log(`   invoke({ count: 0 }) → ${JSON.stringify(result)}  (paused before ${JSON.stringify((await stepping.getState({ threadId: 'demo-steps' })).next)})`)
for (;;) {
  const state = await stepping.getState({ threadId: 'demo-steps' })
  if (state.next.length === 0) break
  result = await stepping.invoke(null, { threadId: 'demo-steps' })
  const after = await stepping.getState({ threadId: 'demo-steps' })
  console.log(`   invoke(null)         → ${JSON.stringify(result)}  ${after.next.length ? `(paused before ${JSON.stringify(after.next)})` : '(done)'}`)
}

console.log(`\nStored: ${store.bytes()} bytes for ${[threadId, 'demo-crash', 'demo-steps'].length} threads.`)
