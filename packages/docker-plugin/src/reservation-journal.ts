import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs'
import { DockerPluginError, ERR_DOCKER_STATE } from './errors.js'
import { checkOwnFile } from './state-dir.js'
import { parseReservationChange } from './state-entries.js'
import type { IpamReservations } from './state-file.js'

/**
 * One change of the IPAM reservations: a pool (`+p`/`-p`, its id) or an address (`+a`/`-a`, its
 * subnet and address) handed to dockerd or given back. Each line says what is present after it,
 * whatever came before: a journal replayed twice gives what it gave once.
 */
export type ReservationChange = ['+p' | '-p', string] | ['+a' | '-a', string, string]

/** The journal beside a state file. */
export function journalFile(stateFile: string): string {
  return `${stateFile}.journal`
}

/** What changed from `before` to `after`, pools first. */
export function reservationChanges(before: IpamReservations, after: IpamReservations): ReservationChange[] {
  const out: ReservationChange[] = []
  const had = new Set(before.pools)
  const has = new Set(after.pools)
  for (const id of has) if (!had.has(id)) out.push(['+p', id])
  for (const id of had) if (!has.has(id)) out.push(['-p', id])
  for (const subnet of new Set([...Object.keys(before.addresses), ...Object.keys(after.addresses)])) {
    const was = new Set(before.addresses[subnet] ?? [])
    const is = new Set(after.addresses[subnet] ?? [])
    for (const a of is) if (!was.has(a)) out.push(['+a', subnet, a])
    for (const a of was) if (!is.has(a)) out.push(['-a', subnet, a])
  }
  return out
}

/**
 * Appends what changed to the journal (0600, created when missing, never through a symbolic
 * link) in one `write`; the number of lines written (none when nothing changed).
 */
export function appendReservationChanges(file: string, before: IpamReservations, after: IpamReservations): number {
  const changes = reservationChanges(before, after)
  if (changes.length === 0) return 0
  const fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600)
  try {
    writeSync(fd, changes.map((c) => `${JSON.stringify(c)}\n`).join(''))
  } finally {
    closeSync(fd)
  }
  return changes.length
}

/**
 * The reservations `base` (the state file's) with the journal's changes applied, how many lines
 * it held, and whether it ends in a torn line. A last line without its newline (cnm stopped in the
 * middle of a write, before its answer reached dockerd) is not counted, and the only thing
 * tolerated: any other line that is not a change cnm writes (a pool id of its IPAM; a subnet and an
 * address inside it) is refused, naming the line. The journal must be cnm's own file (owner, mode).
 */
export function replayReservationJournal(
  file: string,
  base: IpamReservations,
): { reservations: IpamReservations; lines: number; torn: boolean } {
  let text: string
  let fd: number
  try {
    // O_NONBLOCK: a FIFO there is opened (and refused) at once instead of blocking the thread.
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { reservations: base, lines: 0, torn: false }
    throw new DockerPluginError(ERR_DOCKER_STATE, `reservation journal ${file}: ${(err as Error).message}`, {
      cause: err,
    })
  }
  try {
    checkOwnFile(fd, `the reservation journal ${file}`)
    text = readFileSync(fd, 'utf8')
  } catch (err) {
    if (err instanceof DockerPluginError) throw err
    throw new DockerPluginError(ERR_DOCKER_STATE, `reservation journal ${file}: ${(err as Error).message}`, {
      cause: err,
    })
  } finally {
    closeSync(fd)
  }
  const lines = text.split('\n')
  const torn = lines.pop() !== '' // what follows the last newline is a torn write
  const pools = new Set(base.pools)
  const addresses = new Map(Object.entries(base.addresses).map(([s, a]) => [s, new Set(a)]))
  lines.forEach((line, i) => {
    let c: ReservationChange
    try {
      c = parseReservationChange(JSON.parse(line))
    } catch (err) {
      throw new DockerPluginError(
        ERR_DOCKER_STATE,
        `reservation journal ${file}, line ${i + 1}: ${(err as Error).message}`,
        { cause: err, kind: 'invalid' },
      )
    }
    const [op, key, address = ''] = c
    if (op === '+p') pools.add(key)
    else if (op === '-p') pools.delete(key)
    else {
      const set = addresses.get(key) ?? new Set<string>()
      addresses.set(key, set)
      if (op === '+a') set.add(address)
      else set.delete(address)
      if (set.size === 0) addresses.delete(key)
    }
  })
  return {
    reservations: {
      pools: [...pools],
      addresses: Object.fromEntries([...addresses].map(([s, set]) => [s, [...set]])),
    },
    lines: lines.length,
    torn,
  }
}
