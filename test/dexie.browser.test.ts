/** @module The conformance suite against the Dexie adapter in real Chromium. */
import { createDexieAdapter } from '../adapters/dexie.js'
import { runConformance } from './conformance/index.js'

const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
let n = 0
runConformance({
  name: 'dexie (Chromium)',
  create: () => createDexieAdapter({ name: `dexie-conformance-${run}-${n++}` }),
  createSmall: () => createDexieAdapter({ name: `dexie-conformance-${run}-${n++}`, maxValueBytes: 4096 }),
})
