/** @module The conformance suite against the Dexie adapter on fake-indexeddb (fast; real Chromium runs it too). */
import { createDexieAdapter } from '../adapters/dexie.js'
import { runConformance } from './conformance/index.js'

let n = 0
runConformance({
  name: 'dexie (fake-indexeddb)',
  create: () => createDexieAdapter({ name: `dexie-conformance-${n++}` }),
  createSmall: () => createDexieAdapter({ name: `dexie-conformance-${n++}`, maxValueBytes: 4096 }),
})
