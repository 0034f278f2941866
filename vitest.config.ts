import { defineConfig } from 'vitest/config'

// One `vitest run` for every project, each named so a failure says where it ran:
// node (engine and memory adapter), dom (browser adapters on happy-dom + fake-indexeddb, fast).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.dom.test.ts', 'test/**/*.browser.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'dom',
          include: ['test/**/*.dom.test.ts'],
          environment: 'happy-dom',
          setupFiles: ['fake-indexeddb/auto'],
        },
      },
    ],
  },
})
