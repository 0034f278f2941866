/** @module State channels: how a graph's state is declared, and how the state type flows into nodes. */
import type { StandardSchemaV1 } from '../run/schema.js'
import type { ChannelSpec } from '../run/spec.js'

export type { ChannelSpec, StandardSchemaV1 }

/**
 * Declares a channel with explicit types when they cannot be inferred.
 *
 * @example
 * const channels = { note: channel<string | null>({ default: () => null }), seen: channel<Set<string>, string>({ reducer: (s, id) => new Set(s).add(id) }) }
 */
export function channel<T, U = T>(spec: ChannelSpec<T, U> & { reducer: (current: T, update: U) => T }): ChannelSpec<T, U> & { reducer: (current: T, update: U) => T }
export function channel<T>(spec?: ChannelSpec<T, T>): ChannelSpec<T, T>
export function channel(spec: ChannelSpec = {}): ChannelSpec {
  return spec
}

// Specs are matched structurally; `any` here only widens the constraint, it never reaches a user's types.
export type AnyChannelSpec = ChannelSpec<any, any>
export type ChannelsDef = Record<string, AnyChannelSpec>
/** What `new StateGraph(...)` accepts: channel specs, or a Standard Schema for the whole state. */
export type StateDefinition = ChannelsDef | StandardSchemaV1<unknown, Record<string, unknown>>

type ValueOfChannel<C> = C extends { reducer: (current: infer T, update: never) => unknown }
  ? T
  : C extends { default: () => infer T }
    ? T
    : C extends { schema: StandardSchemaV1<unknown, infer T> }
      ? T
      : C extends ChannelSpec<infer T, infer _U>
        ? T
        : unknown
type UpdateOfChannel<C> = C extends { reducer: (current: never, update: infer U) => unknown }
  ? U
  : ValueOfChannel<C>

/** The state type nodes see. */
export type StateOf<D> = D extends StandardSchemaV1<unknown, infer O> ? O : { [K in keyof D]: ValueOfChannel<D[K]> }
/** What a node may return: any subset of channels, each with its update type. */
export type UpdateOf<D> = D extends StandardSchemaV1<unknown, infer O> ? Partial<O> : { [K in keyof D]?: UpdateOfChannel<D[K]> }
