// A file that fails while it is imported (here: bad JSON at the top level), so vitest collects none of its tests.
import { expect, it } from 'vitest'

const settings = JSON.parse('{ "not": "closed"') as { not: string }

it('reads the settings', () => expect(settings.not).toBe('closed'))
