/** @module The conformance suite against the D1 adapter, inside workerd. */
import { runConformance } from '../conformance/index.js'
import { d1Adapter } from './helpers.js'

runConformance({
  name: 'd1',
  create: () => d1Adapter(),
  createSmall: () => d1Adapter({ maxValueBytes: 4096 }),
})
