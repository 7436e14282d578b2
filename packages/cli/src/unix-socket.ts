import { chmodSync, chownSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs'
import { connect } from 'node:net'
import path from 'node:path'
import { isSocketPath } from '@cnm/driverapi'
import { CliError, ERR_SOCKET_IN_USE, invalidArgument } from './errors.js'

/** Whether something accepts connections on the unix socket at `socketPath`. */
function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path: socketPath })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

/**
 * Makes `socketPath` ready to listen on: its directory exists, and a stale socket file (nobody
 * answers on it) is removed. A live socket or a file that is not a socket is an error.
 */
export async function prepareSocketPath(socketPath: string): Promise<void> {
  if (!path.isAbsolute(socketPath)) throw invalidArgument(`--socket ${socketPath} must be an absolute path`)
  mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o755 })
  let isSocket: boolean
  try {
    isSocket = isSocketPath(socketPath)
  } catch {
    return // nothing there
  }
  if (!isSocket) throw invalidArgument(`${socketPath} exists and is not a socket`)
  if (await answers(socketPath)) {
    throw new CliError(ERR_SOCKET_IN_USE, `another server is listening on ${socketPath}`)
  }
  unlinkSync(socketPath)
}

/** The id of a group by name, from /etc/group; undefined when there is no such group. */
export function groupId(name: string, file = '/etc/group'): number | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  for (const line of text.split('\n')) {
    const [group, , gid] = line.split(':')
    if (group === name && gid !== undefined && /^\d+$/u.test(gid)) return Number(gid)
  }
  return undefined
}

/**
 * Mode 0660, owned by root and by `group` when that group exists (else root's group): root and
 * the group's members may use the daemon, nobody else. Returns the group id given.
 */
export function secureSocket(socketPath: string, group: string | false): number {
  chmodSync(socketPath, 0o660)
  const gid = (group === false ? undefined : groupId(group)) ?? 0
  if (process.getuid?.() === 0) chownSync(socketPath, 0, gid)
  return gid
}

/** Removes the socket file if it is (still) a socket. */
export function removeSocket(socketPath: string): void {
  try {
    if (isSocketPath(socketPath)) unlinkSync(socketPath)
  } catch {}
}
