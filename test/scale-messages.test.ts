/**
 * The messages reducer on a long chat (issue 15's scale target): a list it returned carries its id index on to the
 * next call, so a step does not index every message again. Whatever path a call takes, the list is the one a fresh
 * reducer makes from a copy of the same input, with the same message objects.
 */
import * as lc from '@langchain/core/messages'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { diff } from '../src/checkpoint/delta.js'
import { registerLangChainMessages } from '../src/langchain.js'
import { REMOVE_ALL_MESSAGES, messagesStateReducer, type Message, type Messages } from '../src/index.js'

const POOL = ['a', 'b', 'c', 'd', 'e']

/** An update: appends with and without ids, replacements, removals (some of ids not in the list), remove-all. */
const update = fc.array(
  fc.oneof(
    fc.record({ role: fc.constantFrom('user', 'assistant'), content: fc.string({ maxLength: 3 }), id: fc.option(fc.constantFrom(...POOL), { nil: undefined }) }),
    fc.string({ maxLength: 3 }),
    fc.record({ type: fc.constant('remove'), id: fc.constantFrom(...POOL, REMOVE_ALL_MESSAGES) }),
  ),
  { maxLength: 3 },
)

/** The reducer's answer, or the message of its error. */
function attempt(current: Message[], write: Messages): Message[] | string {
  try {
    return messagesStateReducer(current, write)
  } catch (err) {
    return (err as Error).message
  }
}

/**
 * Expects `got` to be `want`: the same message objects wherever `want` holds one it was given (from the list or the
 * update), and equal copies with another generated id where the reducer made one.
 */
function expectSame(got: Message[] | string, want: Message[] | string, given: readonly unknown[]): void {
  if (typeof want === 'string' || typeof got === 'string') {
    expect(got).toEqual(want)
    return
  }
  expect(got.length).toBe(want.length)
  got.forEach((m, i) => {
    const w = want[i] as Message
    if (given.includes(w)) expect(m).toBe(w)
    else expect({ ...m, id: w.id }).toEqual(w)
  })
}

describe('messagesStateReducer on a list it returned', () => {
  it('gives what a fresh call on a copy gives: same messages, same objects, same errors (random updates)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(update, fc.constantFrom('chain', 'twice', 'pushed')), { minLength: 1, maxLength: 25 }), (steps) => {
        let list: Message[] = []
        for (const [write, how] of steps) {
          // The same message objects in both calls, so identities can be compared; the copy has no index.
          const items = write.map((m) => (typeof m === 'string' ? m : { ...m })) as Messages
          if (how === 'pushed') list.push({ role: 'user', content: 'pushed in place', id: 'e' })
          const fresh = attempt([...list], items)
          const given = [...list, ...(items as unknown[])]
          // A branch's view of the step first, then the step: both on the same list.
          if (how === 'twice') expectSame(attempt(list, items), fresh, given)
          const got = attempt(list, items)
          expectSame(got, fresh, given)
          if (typeof got !== 'string') {
            // What a checkpoint stores: the same delta as against copies (which carry no note of what the call kept).
            const where = { channel: 'messages', path: [] }
            expect(diff(list, got, where)).toEqual(diff([...list], [...got], where))
            list = got
          }
        }
      }),
      { numRuns: 300 },
    )
  })

  it('keeps a chat of 3,000 turns right: replace and remove by id far back, after thousands of appends', () => {
    let list: Message[] = []
    for (let i = 0; i < 3000; i++) list = messagesStateReducer(list, [{ id: `m${i}`, role: 'user', content: String(i) }])
    const kept = list
    list = messagesStateReducer(list, [{ id: 'm10', role: 'user', content: 'edited' }, { type: 'remove', id: 'm20' }])
    expect(list).toHaveLength(2999)
    expect(list[10]).toEqual({ id: 'm10', role: 'user', content: 'edited' })
    expect(list.some((m) => m.id === 'm20')).toBe(false)
    expect(list[2998]).toBe(kept[2999])
    // After the removal the next call indexes again, and ids still resolve to the right places.
    list = messagesStateReducer(list, [{ id: 'm2999', role: 'user', content: 'last' }, { id: 'new', role: 'user', content: 'x' }])
    expect(list.slice(-2).map((m) => m.content)).toEqual(['last', 'x'])
    expect(() => messagesStateReducer(list, { type: 'remove', id: 'm20' })).toThrow(/cannot remove message "m20"/)
    // The failed call left the list usable.
    expect(messagesStateReducer(list, { type: 'remove', id: 'm0' })).toHaveLength(2999)
  })

  it('does not take an index made by another reducer (LangChain messages) for its own', () => {
    const { messagesStateReducer: lcReducer } = registerLangChainMessages(lc)
    const fromLc = lcReducer([], [new lc.HumanMessage({ content: 'hi', id: 'a' })])
    // A list the LangChain reducer made, given to the plain one: indexed afresh, so 'a' is found and replaced.
    const mixed = messagesStateReducer(fromLc as never, [{ id: 'a', role: 'user', content: 'plain' }])
    expect(mixed).toEqual([{ id: 'a', role: 'user', content: 'plain' }])
    // And back: the plain list's messages become LangChain messages, as they would from a copy.
    const back = lcReducer(mixed as never, [new lc.AIMessage({ content: 'yes', id: 'b' })])
    expect(back.map((m) => m.id)).toEqual(['a', 'b'])
    expect(back[0]).toBeInstanceOf(lc.HumanMessage)
  })
})
