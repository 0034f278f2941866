// The test passes, but leaves a promise rejected with nobody to handle it: vitest fails the run (exit 1) while its
// JSON report counts 1 passed and 0 failed.
import { expect, it } from 'vitest'

it('passes, and leaves a rejection behind', () => {
  void Promise.reject(new Error('a rejection nobody handled'))
  expect(1).toBe(1)
})
