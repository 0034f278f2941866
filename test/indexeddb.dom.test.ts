/** @module The conformance suite against the IndexedDB adapter on fake-indexeddb (fast; real Chromium runs it too). */
import { createIndexedDBAdapter } from '../adapters/indexeddb.js'
import { runConformance } from './conformance/index.js'

let n = 0
runConformance({
  name: 'indexeddb (fake-indexeddb)',
  create: () => createIndexedDBAdapter({ name: `conformance-${n++}` }),
  createSmall: () => createIndexedDBAdapter({ name: `conformance-${n++}`, maxValueBytes: 4096 }),
})
