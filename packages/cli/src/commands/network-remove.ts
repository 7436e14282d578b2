import { createInterface } from 'node:readline'
import type { CnmApi, NetworkPrune } from '@cnm/client'
import { errorKind } from '@cnm/driverapi'
import { dockerNetworkIdOf, refuseDockerOwned } from '../docker-owned.js'
import { CliError, ERR_PRUNE_INCOMPLETE, formatError } from '../errors.js'
import type { Output } from '../output.js'

/** `--filter` and `--format` of the network listings. */
export interface FilterFormat {
  filter?: string[]
  format?: string
}

/**
 * Reports every failure of a command that goes on past them (as `docker network rm a b c` does):
 * all but the last on stderr, the last thrown (so the exit status is 1 and each failure is one line).
 */
function reportFailures(io: Output, failures: unknown[]): void {
  const last = failures.pop()
  for (const f of failures) io.err(`${formatError(f)}\n`)
  if (last !== undefined) throw last
}

/** Disconnects a network's sandboxes and removes its endpoints (`rm -f`). */
async function emptyNetwork(api: CnmApi, ref: string): Promise<void> {
  const removed = new Set<string>()
  for (const ep of await api.listNetworkEndpoints(ref)) {
    if (removed.has(ep.id)) continue
    if (ep.joined) {
      for (const gone of await api.disconnect(ref, { sandbox: ep.joined.sandboxId })) removed.add(gone.id)
    }
    if (!removed.has(ep.id)) await api.removeEndpoint(ref, ep.id)
    removed.add(ep.id)
  }
}

/**
 * `network rm`: each network is tried and its name printed; failures are reported and the rest go
 * on. With `force` its endpoints are disconnected and removed first, and a network that does not
 * exist is no error (Docker's `-f`); without, a network dockerd made is refused (`ERR_DOCKER_OWNED`).
 */
export async function removeNetworks(api: CnmApi, io: Output, refs: readonly string[], force: boolean): Promise<void> {
  const failures: unknown[] = []
  for (const ref of refs) {
    try {
      if (!force) {
        const name = (await api.inspectNetwork(ref)).name
        if (dockerNetworkIdOf(name) !== undefined) refuseDockerOwned('network', name, name)
      }
      if (force) await emptyNetwork(api, ref)
      io.out(`${(await api.removeNetwork(ref)).name}\n`)
    } catch (err) {
      if (force && errorKind(err) === 'not-found' && !(await exists(api, ref))) continue
      failures.push(err)
    }
  }
  reportFailures(io, failures)
}

async function exists(api: CnmApi, ref: string): Promise<boolean> {
  try {
    await api.inspectNetwork(ref)
    return true
  } catch {
    return false
  }
}

/** `network prune`: the daemon (or this process) removes every idle network that matches; printed as Docker does. */
export async function pruneNetworks(api: CnmApi, io: Output, filters: NetworkPrune): Promise<void> {
  const report = await api.pruneNetworks(filters)
  const deleted = report.networksDeleted
  if (deleted.length > 0) io.out(`Deleted Networks:\n${deleted.map((d) => `${d}\n`).join('')}`)
  for (const e of report.errors) io.err(`cnm: ${e}\n`)
  if (report.errors.length > 0) {
    throw new CliError(
      ERR_PRUNE_INCOMPLETE,
      `${report.errors.length} of the networks that matched could not be removed`,
    )
  }
}

/** Asks on the terminal (Docker's prompt); anything but y/yes is no. */
export async function confirm(io: Output, warning: string): Promise<boolean> {
  io.out(`${warning}\nAre you sure you want to continue? [y/N] `)
  const rl = createInterface({ input: process.stdin })
  // The first line, or nothing when standard input ends first (no terminal: no).
  const answer = await new Promise<string>((resolve) => {
    rl.once('line', resolve)
    rl.once('close', () => resolve(''))
  })
  rl.close()
  return /^y(es)?$/iu.test(answer.trim())
}
