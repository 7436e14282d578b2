import { CommanderError } from 'commander'
import {
  ERR_INVALID_ARGUMENT,
  ERR_MISSING_ARGUMENT,
  ERR_TOO_MANY_ARGUMENTS,
  ERR_UNKNOWN_COMMAND,
  ERR_UNKNOWN_OPTION,
  formatError,
} from './errors.js'

/** Commander's usage errors, as cnm codes. */
const USAGE_CODES: Record<string, string> = {
  'commander.unknownCommand': ERR_UNKNOWN_COMMAND,
  'commander.unknownOption': ERR_UNKNOWN_OPTION,
  'commander.missingArgument': ERR_MISSING_ARGUMENT,
  'commander.optionMissingArgument': ERR_MISSING_ARGUMENT,
  'commander.missingMandatoryOptionValue': ERR_MISSING_ARGUMENT,
  'commander.excessArguments': ERR_TOO_MANY_ARGUMENTS,
  'commander.invalidArgument': ERR_INVALID_ARGUMENT,
  'commander.conflictingOption': ERR_INVALID_ARGUMENT,
}

/** Exits after help or the version was printed (nothing more to say). */
const QUIET = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version'])

/** How a failure ends the process: the line for stderr (if any) and the exit code. */
export interface Failure {
  line: string | undefined
  exitCode: number
}

/** Usage errors exit 2, failures of the work 1; help and version exit as commander says. */
export function describeFailure(err: unknown): Failure {
  if (err instanceof CommanderError) {
    if (QUIET.has(err.code)) return { line: undefined, exitCode: err.exitCode }
    const message = err.message
      .replace(/^error: /u, '')
      .replace(/\s*\n\(Did you mean (.*)\?\)\s*$/su, '; did you mean $1?')
    return { line: formatError({ message, code: USAGE_CODES[err.code] ?? ERR_INVALID_ARGUMENT }), exitCode: 2 }
  }
  return { line: formatError(err), exitCode: 1 }
}
