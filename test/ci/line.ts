/**
 * @module `tsx test/ci/line.ts <counts.json> <vitest exit status>`: prints CI's last line from the counts
 * test/ci/count-reporter.ts wrote (a missing or unreadable file counts as 1 failure) and exits 1 when anything failed.
 */
import { readFileSync } from 'node:fs'
import { ciLine, type Counts } from './count-reporter.js'

const [file, status] = process.argv.slice(2)
if (file === undefined || status === undefined || !/^\d+$/.test(status)) {
  console.error('usage: tsx test/ci/line.ts <counts.json> <vitest exit status>')
  process.exit(2)
}
let counts: Counts | undefined
try {
  counts = JSON.parse(readFileSync(file, 'utf8')) as Counts
} catch {
  counts = undefined
}
const { line, exitCode, notes } = ciLine(counts, Number(status))
if (counts && counts.failures.length > 0) console.log(`failures counted (${counts.failures.length}):\n${counts.failures.map((f) => `  ${f}`).join('\n')}`)
for (const note of notes) console.log(note)
console.log(line)
process.exit(exitCode)
