// What an e2e file looks like when Chromium or wrangler cannot start: the beforeAll that starts it throws, and
// vitest shows the file's tests as skipped (its JSON report counts 1 failed suite, not 3 failed tests).
import { beforeAll, describe, expect, it } from 'vitest'

beforeAll(() => {
  throw new Error('could not start the browser')
})

it('uses the browser', () => expect(1).toBe(1))
it.skip('is skipped on purpose', () => expect(1).toBe(1))

describe('a group with its own setup', () => {
  beforeAll(() => {
    throw new Error('could not open a tab')
  })
  it('uses a tab', () => expect(1).toBe(1))
  it('uses another tab', () => expect(1).toBe(1))
})
