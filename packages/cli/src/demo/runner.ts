import { performance } from 'node:perf_hooks'
import { errorMessage } from '../errors.js'
import type { Output } from '../output.js'
import { formatMs } from './checks.js'
import { type Interrupt, watchSignals } from './interrupt.js'

const LABEL_WIDTH = 58

/** Runs the demo's steps with their timings, and undoes them all, in reverse, at the end. */
export interface Runner {
  readonly io: Output
  /** Runs a step, printing `label` and its time; refused once SIGINT/SIGTERM arrived. */
  step<T>(label: string, fn: () => Promise<T>): Promise<T>
  /** Registers the inverse of what was just made. */
  undo(label: string, fn: () => unknown): void
  /** Throws once SIGINT/SIGTERM arrived (cleanup still runs). */
  checkInterrupt(): void
  /** Runs every undo step (all of them, even after failures); returns the failures. */
  cleanup(): Promise<string[]>
}

export function createRunner(io: Output): Runner {
  const undo: [string, () => unknown][] = []
  const interrupt: Interrupt = watchSignals()
  return {
    io,
    async step(label, fn) {
      interrupt.check()
      const t0 = performance.now()
      const value = await fn()
      io.out(`  ${label.padEnd(LABEL_WIDTH)} ${formatMs(performance.now() - t0)}\n`)
      return value
    },
    undo(label, fn) {
      undo.push([label, fn])
    },
    checkInterrupt: () => interrupt.check(),
    async cleanup() {
      interrupt.dispose()
      const errors: string[] = []
      io.out('\ncleanup\n')
      for (const [label, fn] of undo.splice(0).reverse()) {
        const t0 = performance.now()
        try {
          await fn()
          io.out(`  ${label.padEnd(LABEL_WIDTH)} ${formatMs(performance.now() - t0)}\n`)
        } catch (err) {
          errors.push(`${label}: ${errorMessage(err)}`)
          io.out(`  FAIL  ${label}: ${errorMessage(err)}\n`)
        }
      }
      return errors
    },
  }
}
