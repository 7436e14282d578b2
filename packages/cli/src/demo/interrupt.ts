import { CliError, ERR_INTERRUPTED } from '../errors.js'

/** Set while the demo runs: SIGINT/SIGTERM stop it between steps, and cleanup still runs. */
export interface Interrupt {
  /** Throws once a signal arrived. */
  check(): void
  dispose(): void
}

export function watchSignals(): Interrupt {
  let signal: NodeJS.Signals | undefined
  const on = (s: NodeJS.Signals): void => {
    signal = s
  }
  process.on('SIGINT', on)
  process.on('SIGTERM', on)
  return {
    check() {
      if (signal) throw new CliError(ERR_INTERRUPTED, `interrupted by ${signal}`)
    },
    dispose() {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
    },
  }
}
