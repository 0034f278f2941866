/** @module Keeps pending.ts honest: every pending title names a test that exists in test/langgraph/. */
import { readFileSync, readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { PENDING } from './pending.js'

describe('pending.ts', () => {
  it('names only tests that exist (a renamed test would otherwise run unskipped and its entry linger)', () => {
    const dir = new URL('.', import.meta.url)
    const sources = readdirSync(dir)
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => readFileSync(new URL(f, dir), 'utf8'))
      .join('\n')
    const missing = Object.keys(PENDING).filter((title) => !sources.includes(title))
    expect(missing).toEqual([])
  })
})
