/**
 * @module The messages channel: LangGraph's `messagesStateReducer` (append, replace by id, remove by id) for plain
 * message objects and class instances, written so that diff storage keeps a chat's history at its messages' size.
 */

import { derivedArrays } from '../checkpoint/delta.js'

/**
 * Removing a message with this id (`{ type: 'remove', id: REMOVE_ALL_MESSAGES }`) clears the list; the messages
 * after it in the same update are the new list. The same value as LangGraph's `REMOVE_ALL_MESSAGES`.
 */
export const REMOVE_ALL_MESSAGES = '__remove_all__'

/**
 * A chat message as the reducer sees it: a plain object in any vocabulary (`{ role: 'user', content }` as the
 * OpenAI, Anthropic and AI SDK APIs take it, LangChain's `{ type: 'human', content }`), with any other fields it
 * needs (`tool_calls`, `name`...). The reducer reads only `id`, and `type` or `role` to find removals.
 * `{ type: 'remove', id }` removes the message with that id.
 */
export interface Message {
  id?: string
  role?: string
  type?: string
  content?: unknown
  [key: string]: unknown
}

/** A message, or a shorthand: a string is `{ role: 'user', content }`, a `[role, content]` pair is `{ role, content }`. */
export type MessageLike = Message | string | readonly [role: string, content: unknown]

/** What a node may write to a messages channel: one message or a list (LangGraph's `Messages`). */
export type Messages = MessageLike | readonly MessageLike[]

/**
 * LangGraph's messages reducer: appends the update's messages; one whose `id` is already in the list replaces
 * that message in place; `{ type: 'remove', id }` (or LangChain's `new RemoveMessage({ id })`) removes it, and
 * removing {@link REMOVE_ALL_MESSAGES} clears the list. Messages without an id get one (`crypto.randomUUID()`).
 * Removing an id that is not in the list throws, as in LangGraph.
 *
 * It never changes `current` or the messages in it: it returns a new array that keeps every untouched message
 * (the same object), so a checkpoint stores only the messages that are new. A message that needs an id is copied
 * with its own properties and prototype; `edgegraph/langchain` does that for LangChain messages through their
 * constructors, and turns plain objects and shorthands into LangChain messages as LangGraph does.
 *
 * Unlike LangGraph it works on plain objects and keeps them plain: it does not translate between vocabularies
 * (`role: 'user'` stays `role: 'user'`) and does not check them; give the channel a `schema` for that. As in
 * LangGraph, an array update is a list of messages, so a single `[role, content]` pair is written `[[role, content]]`.
 *
 * @example
 * const channels = { messages: { default: (): Message[] => [], reducer: messagesStateReducer } } // = { messages: MessagesValue }
 * messagesStateReducer([{ id: '1', role: 'user', content: 'hi' }], [{ id: '1', role: 'user', content: 'hello' }, 'and you?'])
 * // → [{ id: '1', role: 'user', content: 'hello' }, { role: 'user', content: 'and you?', id: '<uuid>' }]
 */
export function messagesStateReducer<M extends object>(current: M[], update: M | readonly M[]): M[]
export function messagesStateReducer(current: Message[], update: Messages): Message[]
export function messagesStateReducer(current: unknown, update: unknown): unknown[] {
  return mergeMessages(current, update, toMessage)
}

/**
 * A messages channel for `new StateGraph({ messages: MessagesValue, ... })`: starts empty, folds writes in with
 * {@link messagesStateReducer}. Named as in LangGraph (`new StateSchema({ messages: MessagesValue })`);
 * LangGraph's `new StateGraph(MessagesAnnotation)` is `new StateGraph({ messages: MessagesValue })` here.
 * A channel rather than a whole state, so it goes under any name and beside any other channels.
 */
export const MessagesValue: { default: () => Message[]; reducer: (current: Message[], update: Messages) => Message[] } = {
  default: () => [],
  reducer: messagesStateReducer,
}

/** Whether a message asks to remove the one with its id (a plain `{ type: 'remove' }` or LangChain's `RemoveMessage`). */
function isRemoval(m: object): boolean {
  const { type, role } = m as { type?: unknown; role?: unknown }
  return type === 'remove' || role === 'remove'
}

/**
 * The reducer, given how one message-like becomes a message with an id (`normalize` must return a message it
 * was handed unchanged when it already has an id, so unchanged messages keep their identity). Shared with
 * `edgegraph/langchain`, whose `normalize` makes LangChain messages.
 */
export function mergeMessages<M extends { id?: unknown } & object>(current: unknown, update: unknown, normalize: (like: unknown) => M): M[] {
  // `current` is a list in a channel with a default; LangGraph also takes a single message on either side.
  const left = current == null ? [] : Array.isArray(current) ? current : [current]
  const right = (Array.isArray(update) ? update : [update]).map(normalize)
  // The last remove-all wins: everything before it, old or new, is dropped.
  let removeAll = -1
  right.forEach((m, i) => {
    if (m.id === REMOVE_ALL_MESSAGES && isRemoval(m)) removeAll = i
  })
  if (removeAll >= 0) return right.slice(removeAll + 1)
  // A list this reducer returned is normalized and indexed already: its index moves on to the new list, so a long
  // chat's step costs the copy of the list and not a Map of every id. A second call on `left` (a branch's view of
  // the step) finds none and builds its own, as does a list changed in place since (its length differs).
  const known = indexes.get(left)
  indexes.delete(left)
  // Its note for the diff was read when its own checkpoint was written: dropped, so notes never chain lists together.
  derivedArrays.delete(left)
  const fresh = known?.normalize !== normalize || known.length !== left.length
  const merged = fresh ? left.map(normalize) : left.slice()
  const index = fresh ? new Map(merged.map((m, i) => [m.id, i])) : known.index
  const removed = new Set<unknown>()
  // The first position this call writes: the messages before it are those of `left`, as they were.
  let keep = left.length
  for (const m of right) {
    const at = index.get(m.id)
    if (at !== undefined && at < keep) keep = at
    if (at === undefined) {
      if (isRemoval(m)) throw new Error(`cannot remove message ${JSON.stringify(m.id)}: no message in the list has that id`)
      index.set(m.id, merged.length)
      merged.push(m)
    } else if (isRemoval(m)) {
      removed.add(m.id)
    } else {
      // A message removed and then written again in the same update stays, as in LangGraph.
      removed.delete(m.id)
      merged[at] = m
    }
  }
  if (removed.size > 0) return merged.filter((m) => !removed.has(m.id))
  indexes.set(merged, { normalize, length: merged.length, index })
  // So the checkpoint's diff compares only the messages from there on, not the whole list (when it copied `left`).
  if (!fresh) derivedArrays.set(merged, { from: left, keep })
  return merged
}

/** The id → position index of each list {@link mergeMessages} returned, with the `normalize` it was made by. */
const indexes = new WeakMap<object, { normalize: unknown; length: number; index: Map<unknown, number> }>()

/** A plain message from a message-like, with an id; a message that has one is returned as it is. */
function toMessage(like: unknown): Message {
  const m = typeof like === 'string' ? { role: 'user', content: like } : Array.isArray(like) ? { role: like[0], content: like[1] } : like
  if (m === null || typeof m !== 'object') throw new Error(`a message must be an object, a string or a [role, content] pair, not ${String(m)}`)
  return (m as Message).id == null ? withId(m, newMessageId()) : (m as Message)
}

/** A copy of `m` (same prototype, same own properties) with `id` set: never the message itself, which others may hold. */
function withId(m: object, id: string): Message {
  const descriptors = Object.getOwnPropertyDescriptors(m)
  descriptors.id = { value: id, writable: true, enumerable: true, configurable: true }
  return Object.create(Object.getPrototypeOf(m), descriptors) as Message
}

/** A random UUID v4, as LangGraph gives messages. */
export function newMessageId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID()
  // randomUUID exists only in secure contexts (https, localhost); a page served over plain http on a LAN address
  // still has getRandomValues.
  const b = crypto.getRandomValues(new Uint8Array(16))
  b[6] = ((b[6] as number) & 0x0f) | 0x40
  b[8] = ((b[8] as number) & 0x3f) | 0x80
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
