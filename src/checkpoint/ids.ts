/**
 * @module Checkpoint ids: base 36, sorting by creation time within a thread. 8 characters of milliseconds, 3 of
 * sequence within one millisecond, then 5 random ones, so that two writers of one thread (two devices, a tab and the
 * Worker) never make the same id, as sync needs. Ids of 11 characters, written before the random part, keep loading.
 */

const TS_DIGITS = 8 // base-36 milliseconds: fixed width until the year 2059
const SEQ_DIGITS = 3
const RANDOM_DIGITS = 5

// Random numbers drawn 256 at a time: one getRandomValues call costs about as much as the rest of an id (several µs
// in Node), and a run makes one id per step.
const pool = new Uint32Array(256)
let drawn = pool.length
const randomUint32 = (): number => {
  if (drawn === pool.length) {
    crypto.getRandomValues(pool)
    drawn = 0
  }
  return pool[drawn++] as number
}

/** A new checkpoint id, greater than `after` (the thread's newest), that sorts by creation time. */
export function nextCheckpointId(after: string | undefined, now = Date.now()): string {
  let ts = now
  let seq = 0
  if (after !== undefined) {
    const prevTs = Number.parseInt(after.slice(0, TS_DIGITS), 36)
    const prevSeq = Number.parseInt(after.slice(TS_DIGITS, TS_DIGITS + SEQ_DIGITS), 36)
    if (prevTs >= now) {
      ts = prevTs
      seq = prevSeq + 1
      if (seq >= 36 ** SEQ_DIGITS) {
        ts++
        seq = 0
      }
    }
  }
  const random = randomUint32() % 36 ** RANDOM_DIGITS
  return ts.toString(36).padStart(TS_DIGITS, '0') + seq.toString(36).padStart(SEQ_DIGITS, '0') + random.toString(36).padStart(RANDOM_DIGITS, '0')
}

/** The creation time (ms) encoded in a checkpoint id. */
export function idTime(id: string): number {
  return Number.parseInt(id.slice(0, TS_DIGITS), 36)
}

/** A checkpoint id: 16 characters of 0-9 a-z, or 11 (written before ids had a random part). */
export function isCheckpointId(id: unknown): id is string {
  return typeof id === 'string' && /^[0-9a-z]{11}(?:[0-9a-z]{5})?$/.test(id)
}
