/** @module State channels: how a graph's state is declared, and how the state type flows into nodes. */

/**
 * The Standard Schema interface (https://standardschema.dev), copied as its authors intend so that zod 4,
 * valibot, arktype and others work without edgegraph depending on any of them.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1
    readonly vendor: string
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>
    readonly types?: { readonly input: Input; readonly output: Output } | undefined
  }
}
type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<{ readonly message: string; readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined }> }

/**
 * One state channel. Without a reducer, a write replaces the value (and two nodes writing it in the same
 * step is an error); with one, writes are folded in with `reducer(current, update)`.
 *
 * @example
 * const channels = {
 *   count: { default: () => 0 },
 *   messages: { default: (): string[] => [], reducer: (a: string[], b: string[]) => [...a, ...b] },
 * }
 */
export interface ChannelSpec<T = unknown, U = T> {
  /** Value of the channel in a new thread. */
  default?: () => T
  /** Folds a write into the current value. Must return a new value rather than mutate `current`. */
  reducer?: (current: T, update: U) => T
  /** Validates (and may transform) the channel's value whenever it changes. */
  schema?: StandardSchemaV1<unknown, T>
}

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
// eslint-disable-next-line @typescript-eslint/no-explicit-any
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

export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  return typeof value === 'object' && value !== null && '~standard' in value
}

/** Runs a Standard Schema; returns the validated value or a readable list of problems. */
export async function validateWith(schema: StandardSchemaV1, value: unknown): Promise<{ ok: true; value: unknown } | { ok: false; problems: string }> {
  const result = await schema['~standard'].validate(value)
  if (result.issues === undefined) return { ok: true, value: result.value }
  const problems = result.issues
    .map((i) => {
      const path = (i.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.')
      return path ? `${path}: ${i.message}` : i.message
    })
    .join('; ')
  return { ok: false, problems }
}
