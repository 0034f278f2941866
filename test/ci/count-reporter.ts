/**
 * @module The counts behind CI's last line, `tests: N passed, N failed[, N skipped]` (.ci/run prints it).
 *
 * A vitest reporter: `--reporter=./test/ci/count-reporter.ts` writes the counts as JSON to the file named by
 * EDGEGRAPH_COUNTS_FILE (or prints the line when that is unset). Everything the runner reports as an error counts
 * as failed, so the line can never read better than the run was:
 * - a test that failed;
 * - a test that did not run because its file or suite failed first (a `beforeAll` that threw, a file that failed
 *   to import): vitest shows those as skipped;
 * - an error outside any test that made no test fail (an `afterAll` that threw, a file that failed at import and
 *   so has no tests, a file that never ran);
 * - each unhandled error (an unhandled rejection, say), which vitest counts nowhere but in its exit code.
 * Skipped are only the tests skipped on purpose (`it.skip`, `it.todo`, `ctx.skip()` in a healthy suite).
 */
import { writeFileSync } from 'node:fs'
import type { Reporter, TestModule, TestRunEndReason } from 'vitest/node'

export interface Counts {
  passed: number
  failed: number
  skipped: number
  /** vitest's own verdict on the run. */
  reason: TestRunEndReason
  /** One plain line per failure counted, so the count can be checked against what happened. */
  failures: string[]
}

/** The parts of vitest's reported tasks the counting reads (its TestModule, TestSuite and TestCase fit these). */
interface ErrorLike {
  message?: string
  name?: string
}
interface CaseLike {
  type: 'test'
  name: string
  options: { mode: 'run' | 'only' | 'skip' | 'todo' }
  result(): { state: 'passed' | 'failed' | 'skipped' | 'pending'; errors?: ReadonlyArray<ErrorLike> | undefined }
}
interface SuiteLike {
  type: 'suite' | 'module'
  name?: string
  errors(): ReadonlyArray<ErrorLike>
  children: Iterable<CaseLike | SuiteLike>
}
export interface ModuleLike extends SuiteLike {
  type: 'module'
  relativeModuleId: string
  project: { name: string }
  state(): 'queued' | 'pending' | 'passed' | 'failed' | 'skipped'
}

const firstLine = (e: ErrorLike | undefined): string => {
  const text = `${e?.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e?.message ?? 'unknown error'}`
  return text.split('\n')[0]?.slice(0, 400) ?? ''
}

/** Counts one finished run: the modules vitest ran (or meant to), the errors it caught outside them, its verdict. */
export function countRun(modules: ReadonlyArray<ModuleLike>, unhandledErrors: ReadonlyArray<ErrorLike>, reason: TestRunEndReason): Counts {
  const counts: Counts = { passed: 0, failed: 0, skipped: 0, reason, failures: [] }
  const fail = (what: string) => {
    counts.failed++
    counts.failures.push(what)
  }

  /** Counts a suite's tests; `broken` is the first error of the nearest enclosing suite or file that failed. Returns the failures counted. */
  const visit = (suite: SuiteLike, where: string, broken: string | undefined): number => {
    const own = suite.errors()
    const cause = broken ?? (own.length > 0 ? `its ${suite.type === 'module' ? 'file' : 'suite'} failed first: ${firstLine(own[0])}` : undefined)
    let failed = 0
    for (const child of suite.children) {
      if (child.type !== 'test') {
        failed += visit(child, `${where} > ${child.name ?? ''}`, cause)
        continue
      }
      const name = `${where} > ${child.name}`
      const { state, errors } = child.result()
      let why: string | undefined
      if (state === 'passed') counts.passed++
      else if (state === 'failed') why = firstLine(errors?.[0])
      else if (state === 'pending') why = 'did not finish (the run stopped first)'
      else if (child.options.mode === 'skip' || child.options.mode === 'todo' || cause === undefined) counts.skipped++
      else why = `did not run, ${cause}`
      if (why !== undefined) {
        fail(`${name}: ${why}`)
        failed++
      }
    }
    // Errors of this suite that made no test fail (an afterAll that threw; a file with no tests left to blame).
    if (own.length > 0 && failed === 0) {
      for (const e of own) fail(`${where}: ${firstLine(e)}`)
      failed += own.length
    }
    return failed
  }

  for (const module of modules) {
    const where = `[${module.project.name}] ${module.relativeModuleId}`
    const failed = visit(module, where, undefined)
    const state = module.state()
    if (failed === 0 && (state === 'failed' || state === 'queued' || state === 'pending')) {
      fail(state === 'failed' ? `${where}: the file failed` : `${where}: the file did not run to the end`)
    }
  }
  for (const e of unhandledErrors) fail(`unhandled error: ${firstLine(e)}`)
  return counts
}

/**
 * CI's verdict from the counts (undefined: none were written) and vitest's exit status: the line to print, the
 * exit code, and notes saying why the line shows more failures than tests failed. Any non-zero status, and a run
 * with no test at all, shows at least 1 failed.
 */
export function ciLine(counts: Counts | undefined, exitStatus: number): { line: string; exitCode: number; notes: string[] } {
  const notes: string[] = []
  let { passed, failed, skipped } = counts ?? { passed: 0, failed: 0, skipped: 0 }
  if (counts === undefined) {
    notes.push(`no test counts were written (the typecheck or vitest start-up failed, exit status ${exitStatus}; see above)`)
    failed = Math.max(failed, 1)
  } else if (failed === 0 && exitStatus !== 0) {
    notes.push(`vitest exited with status ${exitStatus} although no test failed (see its errors above): counted as 1 failure`)
    failed = 1
  } else if (failed === 0 && counts.reason !== 'passed') {
    notes.push(`vitest ended the run as "${counts.reason}": counted as 1 failure`)
    failed = 1
  } else if (passed + failed === 0) {
    notes.push('no test ran: counted as 1 failure')
    failed = 1
  }
  const line = `tests: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`
  return { line, exitCode: failed > 0 || exitStatus !== 0 ? 1 : 0, notes }
}

export default class CountReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<ErrorLike>, reason: TestRunEndReason): void {
    const counts = countRun(testModules, unhandledErrors, reason)
    const file = process.env.EDGEGRAPH_COUNTS_FILE
    if (file) writeFileSync(file, `${JSON.stringify(counts, null, 2)}\n`)
    else console.log(ciLine(counts, reason === 'passed' ? 0 : 1).line)
  }
}
