/** @module Standard Schema support: state validated by zod, valibot, arktype... without depending on any of them. */

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
