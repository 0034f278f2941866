/**
 * @module edgegraph/langchain: LangChain messages in edgegraph state. edgegraph does not depend on LangChain: you
 * pass in the `@langchain/core/messages` module your app already loads, and its classes are registered from it.
 */
import { registerClass } from './checkpoint/serde.js'
import { mergeMessages, newMessageId } from './graph/messages.js'

type MessageClass = new (fields: never) => object

/**
 * What edgegraph uses of `@langchain/core/messages`: pass the module itself
 * (`import * as messages from '@langchain/core/messages'`). Classes it does not have are skipped.
 */
export interface LangChainMessagesModule {
  HumanMessage: MessageClass
  AIMessage: MessageClass
  SystemMessage: MessageClass
  ToolMessage: MessageClass
  RemoveMessage: MessageClass
  BaseMessageChunk: abstract new (...args: never) => object
  coerceMessageLikeToMessage: (messageLike: never) => object
}

/** A LangChain message, as far as this module looks at it. */
interface LangChainMessage {
  id?: string | undefined
  getType(): string
}

/** The messages channel for LangChain messages, typed with the module's `BaseMessage` and `BaseMessageLike`. */
export interface LangChainMessagesChannel<Message, MessageLike> {
  /**
   * LangGraph's `messagesStateReducer`, as `messagesStateReducer` from `edgegraph` does it (append, replace by id,
   * remove with `RemoveMessage`, `REMOVE_ALL_MESSAGES`), plus LangGraph's coercion: strings, `[role, content]`
   * pairs and plain objects become LangChain messages, and chunks (`AIMessageChunk`...) their full class. A message
   * without an id gets a copy with one, made by its constructor; the messages it is given are never changed.
   */
  messagesStateReducer: (current: Message[], update: MessageLike | readonly MessageLike[]) => Message[]
  /** The channel: `new StateGraph({ messages: MessagesValue })`, LangGraph's `MessagesAnnotation`. */
  MessagesValue: { default: () => Message[]; reducer: (current: Message[], update: MessageLike | readonly MessageLike[]) => Message[] }
}

/** The classes registered, by their name in `@langchain/core/messages`; a stored message is tagged `c:lc.<name>`. */
const CLASSES = [
  'HumanMessage',
  'AIMessage',
  'SystemMessage',
  'ToolMessage',
  'ChatMessage',
  'FunctionMessage',
  'RemoveMessage',
  'HumanMessageChunk',
  'AIMessageChunk',
  'SystemMessageChunk',
  'ToolMessageChunk',
  'ChatMessageChunk',
  'FunctionMessageChunk',
]

/** The full class of each message type, for turning chunks into messages as LangGraph does. */
const FULL_CLASS: Record<string, string> = { human: 'HumanMessage', ai: 'AIMessage', system: 'SystemMessage', tool: 'ToolMessage', function: 'FunctionMessage', generic: 'ChatMessage' }

/**
 * Registers LangChain's message classes with edgegraph's serde, so state can hold them: each is stored as its
 * fields (`content`, `id`, `name`, `tool_calls`, `usage_metadata`, `tool_call_id`, `artifact`...) and read back
 * through its constructor as an equal instance of the same class. Call it once at startup, in every process that
 * runs or reads the graph's threads. Returns the messages channel for LangChain messages.
 *
 * @example
 * import * as messages from '@langchain/core/messages'
 * import { registerLangChainMessages } from 'edgegraph/langchain'
 *
 * const { MessagesValue } = registerLangChainMessages(messages)
 * const graph = new StateGraph({ messages: MessagesValue })
 *   .addNode('agent', async (s) => ({ messages: [await model.invoke(s.messages)] }))
 */
export function registerLangChainMessages<M extends LangChainMessagesModule>(
  messages: M,
): LangChainMessagesChannel<ReturnType<M['coerceMessageLikeToMessage']>, Parameters<M['coerceMessageLikeToMessage']>[0]> {
  const classes = messages as unknown as Record<string, MessageClass | undefined>
  for (const name of CLASSES) {
    const type = classes[name]
    if (typeof type === 'function') registerClass({ tag: `lc.${name}`, type, encode: (m) => fieldsOf(m), decode: (fields) => new type(fields as never) })
  }
  const normalize = (like: unknown): LangChainMessage => {
    let m = messages.coerceMessageLikeToMessage(like as never) as LangChainMessage
    const full = m instanceof messages.BaseMessageChunk ? classes[FULL_CLASS[m.getType()] as string] : undefined
    if (full) m = new full(fieldsOf(m, 'tool_call_chunks') as never) as LangChainMessage
    if (m.id != null) return m
    const type = m.constructor as MessageClass
    return new type({ ...fieldsOf(m), id: newMessageId() } as never) as LangChainMessage
  }
  const messagesStateReducer = (current: unknown, update: unknown) => mergeMessages(current, update, normalize)
  return { messagesStateReducer, MessagesValue: { default: () => [], reducer: messagesStateReducer } } as never
}

/**
 * A message's constructor fields: its own properties but LangChain's bookkeeping (`lc_*`, `type`, which the class
 * sets) and what the constructor fills in anyway (undefined fields, empty `additional_kwargs` and `response_metadata`).
 */
function fieldsOf(m: object, drop?: string): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(m).filter(
      ([key, value]) =>
        value !== undefined &&
        key !== 'type' &&
        key !== drop &&
        !key.startsWith('lc_') &&
        !((key === 'additional_kwargs' || key === 'response_metadata') && isEmpty(value)),
    ),
  )
}

function isEmpty(value: unknown): boolean {
  return value !== null && typeof value === 'object' && Object.keys(value).length === 0
}
