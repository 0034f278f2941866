/** @module The conformance suite with encryption on (withEncryption), in workerd: the Durable Object and D1 adapters underneath. */
import { withEncryption } from '../../src/encryption.js'
import { runConformance } from '../conformance/index.js'
import { d1Adapter, durableObjectAdapter } from './helpers.js'

const opts = { keys: { k1: crypto.getRandomValues(new Uint8Array(32)) }, current: 'k1' }

runConformance({
  name: 'durable-object (encrypted)',
  create: () => withEncryption(durableObjectAdapter(), opts),
  createSmall: () => withEncryption(durableObjectAdapter({ maxValueBytes: 4096 + 33 }), opts),
  propertyRuns: 20,
})

runConformance({
  name: 'd1 (encrypted)',
  create: () => withEncryption(d1Adapter(), opts),
  createSmall: () => withEncryption(d1Adapter({ maxValueBytes: 4096 + 33 }), opts),
  propertyRuns: 20,
})
