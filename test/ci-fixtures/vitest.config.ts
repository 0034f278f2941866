// Runs only the fixtures of test/ci/count-reporter.test.ts, which names the files to run each time. They are kept out
// of the project's own test globs: most of them fail on purpose.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  test: { name: 'ci-fixtures', include: ['*.fixture.ts'], environment: 'node' },
})
