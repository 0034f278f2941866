// Setup file of the vitest projects that drive Chromium: without it, each of their test files fails at its start
// with what to install, instead of being skipped or failing deep inside Playwright. Other projects run as usual.
import { chromiumMissing } from './binary.js'

const missing = chromiumMissing()
if (missing !== undefined) throw new Error(missing)
