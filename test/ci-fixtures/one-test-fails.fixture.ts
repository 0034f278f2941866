// One test passes, one fails.
import { expect, it } from 'vitest'

it('passes', () => expect(2 * 2).toBe(4))
it('fails', () => expect(2 * 2, 'a failing assertion').toBe(5))
