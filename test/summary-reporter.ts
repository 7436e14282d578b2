import { writeFileSync } from 'node:fs'
import type { Reporter, SerializedError, TestModule, TestRunEndReason } from 'vitest/node'
import { startOriginGuard } from './origin-guard.js'

interface Counts {
  passed: number
  failed: number
  skipped: number
}

function count(testModules: ReadonlyArray<TestModule>, unhandledErrors: number): Counts {
  const c: Counts = { passed: 0, failed: 0, skipped: 0 }
  for (const mod of testModules) {
    let failedHere = 0
    for (const test of mod.children.allTests()) {
      const state = test.result().state
      if (state === 'passed') c.passed++
      else if (state === 'failed') failedHere++
      else c.skipped++
    }
    // A file whose hooks failed (a kernel-state leftover, say) counts once even if its tests passed.
    if (failedHere === 0 && (mod.errors().length > 0 || mod.state() === 'failed')) failedHere = 1
    c.failed += failedHere
  }
  c.failed += unhandledErrors
  return c
}

/**
 * Ends every run with the check that the namespace the tests started in is unchanged (a
 * difference counts as one failure and fails the run), then prints `N passed, N failed,
 * N skipped` as the very last line: the form CI reads.
 */
export default class SummaryReporter implements Reporter {
  private check: () => string[] = () => []

  onInit(): void {
    this.check = startOriginGuard()
  }

  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
    _reason: TestRunEndReason,
  ): void {
    const c = count(testModules, unhandledErrors.length)
    const problems = this.check()
    if (problems.length > 0) {
      c.failed++
      process.exitCode = 1
      process.stdout.write(`\nFAIL the test suite changed the namespace it started in:\n${problems.join('\n')}\n`)
    }
    // scripts/test.sh adds the static checks run beside the tests and prints the closing line.
    const summaryFile = process.env.CNM_TEST_SUMMARY_FILE
    if (summaryFile) {
      writeFileSync(summaryFile, JSON.stringify(c), { flag: 'wx' })
      process.stdout.write(`\nvitest: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped\n`)
      return
    }
    // The test command's whole duration (set-up included), when scripts/test.sh started it.
    const started = Number(process.env.CNM_TEST_STARTED)
    if (started > 0) process.stdout.write(`\ntest command: ${Math.round(Date.now() / 1000 - started)} s in all\n`)
    process.stdout.write(`\n${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped\n`)
  }
}
