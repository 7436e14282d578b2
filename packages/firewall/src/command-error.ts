import { hasErrorCode } from '@cnm/driverapi'
import { ERR_COMMAND_FAILED, ERR_NOT_SUPPORTED, FirewallError } from './errors.js'
import type { ExecResult } from './run-program.js'

/** Kernel messages (strerror text, and the iptables wordings) and the errno names they stand for. */
const ERRNO_TEXT: [RegExp, string][] = [
  [/File exists|Chain already exists|overlaps with an existing/u, 'EEXIST'],
  [/No such file or directory|does a matching rule exist|No chain\/target\/match by that name/u, 'ENOENT'],
  [/Device or resource busy/u, 'EBUSY'],
  [/Too many links/u, 'EMLINK'],
  [/Operation not permitted|you must be root/u, 'EPERM'],
  [/Permission denied/u, 'EACCES'],
  [/Operation not supported/u, 'EOPNOTSUPP'],
  [/Protocol not supported/u, 'EPROTONOSUPPORT'],
  [/Too many levels of symbolic links/u, 'ELOOP'],
  [/Numerical result out of range/u, 'ERANGE'],
  [/No buffer space available/u, 'ENOBUFS'],
  // Resource limits (kind unavailable): libnftables reports the file it could not open.
  [/Too many open files in system/u, 'ENFILE'],
  [/Too many open files/u, 'EMFILE'],
  [/Cannot allocate memory/u, 'ENOMEM'],
  [/No space left on device/u, 'ENOSPC'],
  [/Invalid argument/u, 'EINVAL'],
]

/** The errno name in a program's error output, if it names one. */
export function errnoFromText(text: string): string | undefined {
  return ERRNO_TEXT.find(([re]) => re.test(text))?.[1]
}

/**
 * An error for a failed firewall program: `code` is the errno name the output names (`EEXIST`, …)
 * or `ERR_COMMAND_FAILED` (`ERR_NOT_SUPPORTED` when the program is not installed). `explain`
 * turns the number of the failing input line into the object it programs, so the message names it.
 */
export function commandError(
  what: string,
  program: string,
  res: ExecResult,
  explain?: (line: number) => string | undefined,
): FirewallError {
  if (res.error) {
    const code = hasErrorCode(res.error, 'ENOENT') ? ERR_NOT_SUPPORTED : ERR_COMMAND_FAILED
    return new FirewallError(code, `${what}: cannot run ${program}: ${res.error.message}`, { cause: res.error })
  }
  const text = res.stderr.trim()
  const errno = errnoFromText(text)
  const lineMatch = text.match(/(?:^|\n)(?:\/dev\/stdin|<cmdline>|\/proc\/self\/fd\/\d+):(\d+):|line:? (\d+)/u)
  const line = Number(lineMatch?.[1] ?? lineMatch?.[2] ?? Number.NaN)
  const object = Number.isNaN(line) ? undefined : explain?.(line)
  const lines = text.split('\n')
  const errors = lines.filter((l) => /error|failed/iu.test(l))
  const firstLines = (errors.length > 0 ? errors : lines).slice(0, 2).join(' | ')
  const message = `${what}${object ? `: ${object}` : ''}: ${program} failed${errno ? ` (${errno})` : ''}: ${firstLines || `exit status ${res.status}`}`
  return new FirewallError(errno ?? ERR_COMMAND_FAILED, message, {
    cause: Object.assign(new Error(text || `exit status ${res.status}`), { status: res.status }),
  })
}
