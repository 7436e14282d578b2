import { describe, it } from 'vitest'
import { hasProgram } from './run.js'

/** Why kernel tests cannot run here, or undefined when they can. */
export function kernelTestsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'kernel tests need Linux'
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'kernel tests need root'
  for (const tool of ['ip', 'nsenter']) if (!hasProgram(tool)) return `kernel tests need \`${tool}\``
  return undefined
}

/**
 * `describe` for tests that touch the kernel. Without root they are skipped with a one-line
 * reason; under CI (`CI=true`) a missing prerequisite is a failure instead, so CI never passes by
 * skipping them.
 */
export function describeKernel(name: string, fn: () => void): void {
  const why = kernelTestsUnavailable()
  if (why === undefined) {
    describe(name, fn)
  } else if (process.env.CI === 'true' || process.env.CI === '1') {
    describe(name, () => {
      it('has what kernel tests need', () => {
        throw new Error(`${why}, and CI must run them`)
      })
    })
  } else {
    describe.skip(`${name} [skipped: ${why}]`, fn)
  }
}

/** Throws unless `tool` is installed (the README's commands install nft, iptables and ping). */
export function requireProgram(tool: string): void {
  if (!hasProgram(tool))
    throw new Error(`this test needs \`${tool}\`; run the README's test command, which installs it`)
}
