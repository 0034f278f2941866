/** @module The conformance suite run against the in-memory adapter, the reference for every other backend. */
import { createMemoryAdapter } from '../adapters/memory.js'
import { runConformance } from './conformance/index.js'

runConformance({
  name: 'memory',
  create: () => createMemoryAdapter(),
  createSmall: () => createMemoryAdapter({ maxValueBytes: 4096 }),
  createWithQuota: (quotaBytes) => createMemoryAdapter({ quotaBytes }),
})
