import { defineConfig } from 'vitest/config'

// One `vitest run` for every project; later issues add browser (real Chromium) and workers (workerd) projects.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          environment: 'node',
          typecheck: { enabled: false },
        },
      },
    ],
  },
})
