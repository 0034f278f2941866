// A healthy file: 2 tests pass, 1 is skipped on purpose, 1 skips itself.
import { expect, it } from 'vitest'

it('adds', () => expect(1 + 1).toBe(2))
it('concatenates', () => expect('a' + 'b').toBe('ab'))
it.skip('is skipped on purpose', () => expect(1).toBe(2))
it('skips itself at run time', (ctx) => ctx.skip('nothing to check here'))
