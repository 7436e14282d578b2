import { readdirSync, readlinkSync, realpathSync } from 'node:fs'
import type { UnheldPortReport } from '@cnm/driverapi'
import type { Core } from './core.js'

/** Whether process `pid` has `file` open (one of its descriptors links to it). */
function hasOpen(pid: number, file: string): boolean {
  let fds: string[]
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return false
  }
  return fds.some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === file
    } catch {
      return false
    }
  })
}

/** What a reconcile says of a published port another program has bound (the holder named). */
function problem(core: Core, u: UnheldPortReport): string {
  const ep = core.endpoints.get(u.endpoint)?.name ?? u.endpoint
  const net = core.networks.get(u.network)?.name ?? u.network
  const who =
    u.holders.length > 0
      ? u.holders.map((h) => `pid ${h.pid}${h.command ? ` (${h.command})` : ''}`).join(', ')
      : 'a program cnm cannot see (another PID namespace)'
  return `published port ${u.port} of endpoint ${ep} (network ${net}) is bound by ${who}, which took it while cnm was not holding it: cnm cannot hold it, and its traffic still goes to the container, not to that program; once that program let go, the daemon holds it again within 10 s (and a reconcile does at once)`
}

/**
 * The published ports the drivers could not hold at their restore, as problems for the reconcile
 * report, except those another controller on this same store holds (a process that has the store
 * open: the daemon, or a library user, beside this one-shot process).
 */
export async function unheldPortProblems(core: Core): Promise<string[]> {
  let store: string | undefined
  try {
    store = core.store.file === false ? undefined : realpathSync(core.store.file)
  } catch {}
  const out: string[] = []
  for (const driver of core.drivers.values()) {
    let unheld: UnheldPortReport[]
    try {
      unheld = (await driver.persistence?.unheldPorts?.()) ?? []
    } catch (err) {
      out.push(`driver ${driver.name}: cannot tell which published ports are held: ${(err as Error).message}`)
      continue
    }
    for (const u of unheld) {
      if (store !== undefined && u.holders.some((h) => hasOpen(h.pid, store))) continue
      out.push(problem(core, u))
    }
  }
  return out
}
