/** @module The conformance suite against the IndexedDB adapter in real Chromium. */
import { createIndexedDBAdapter } from '../adapters/indexeddb.js'
import { runConformance } from './conformance/index.js'

const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
let n = 0
runConformance({
  name: 'indexeddb (Chromium)',
  create: () => createIndexedDBAdapter({ name: `conformance-${run}-${n++}` }),
  createSmall: () => createIndexedDBAdapter({ name: `conformance-${run}-${n++}`, maxValueBytes: 4096 }),
})
