/** @module The conformance suite against the Durable Object SQLite adapter, inside workerd. */
import { runConformance } from '../conformance/index.js'
import { durableObjectAdapter } from './helpers.js'

runConformance({
  name: 'durable-object',
  create: () => durableObjectAdapter(),
  createSmall: () => durableObjectAdapter({ maxValueBytes: 4096 }),
})
