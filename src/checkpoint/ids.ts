/** @module Checkpoint ids: 11 characters of base 36 that sort by creation time within a thread. */

const TS_DIGITS = 8 // base-36 milliseconds: fixed width until the year 2059
const SEQ_DIGITS = 3

/** A new checkpoint id, greater than `after` (the thread's newest), that sorts by creation time. */
export function nextCheckpointId(after: string | undefined, now = Date.now()): string {
  let ts = now
  let seq = 0
  if (after !== undefined) {
    const prevTs = Number.parseInt(after.slice(0, TS_DIGITS), 36)
    const prevSeq = Number.parseInt(after.slice(TS_DIGITS), 36)
    if (prevTs >= now) {
      ts = prevTs
      seq = prevSeq + 1
      if (seq >= 36 ** SEQ_DIGITS) {
        ts++
        seq = 0
      }
    }
  }
  return ts.toString(36).padStart(TS_DIGITS, '0') + seq.toString(36).padStart(SEQ_DIGITS, '0')
}

/** The creation time (ms) encoded in a checkpoint id. */
export function idTime(id: string): number {
  return Number.parseInt(id.slice(0, TS_DIGITS), 36)
}

export function isCheckpointId(id: unknown): id is string {
  return typeof id === 'string' && /^[0-9a-z]{11}$/.test(id)
}
