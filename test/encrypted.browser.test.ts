/** @module The conformance suite with encryption on (withEncryption), in real Chromium: IndexedDB and Dexie underneath. */
import { createDexieAdapter } from '../adapters/dexie.js'
import { createIndexedDBAdapter } from '../adapters/indexeddb.js'
import { withEncryption } from '../src/encryption.js'
import { runConformance } from './conformance/index.js'

const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
let n = 0
const opts = { keys: { k1: crypto.getRandomValues(new Uint8Array(32)) }, current: 'k1' }

runConformance({
  name: 'indexeddb (Chromium, encrypted)',
  create: () => withEncryption(createIndexedDBAdapter({ name: `enc-conformance-${run}-${n++}` }), opts),
  createSmall: () => withEncryption(createIndexedDBAdapter({ name: `enc-conformance-${run}-${n++}`, maxValueBytes: 4096 + 33 }), opts),
  propertyRuns: 20,
})

runConformance({
  name: 'dexie (Chromium, encrypted)',
  create: () => withEncryption(createDexieAdapter({ name: `enc-dexie-${run}-${n++}` }), opts),
  createSmall: () => withEncryption(createDexieAdapter({ name: `enc-dexie-${run}-${n++}`, maxValueBytes: 4096 + 33 }), opts),
  propertyRuns: 20,
})
