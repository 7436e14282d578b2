import { hasErrorCode } from '@cnm/driverapi'
import type { NetworkContext } from '../resources.js'
import { bridgeSysctl, notePriorSysctl, restoreBridgeSysctl } from './bridge-sysctls.js'
import type { Step } from './step.js'

/**
 * The bridge takes no IPv6 router advertisements: `accept_ra=0`, on every network (as Docker's
 * `setupDefaultSysctl`). The kernel's default takes them on a host that does not forward IPv6 (one
 * with only IPv4 networks), so one packet from a container with CAP_NET_RAW would make it the host's
 * IPv6 router: a default route through it, an address from its prefix (CVE-2020-13401). Before the
 * bridge is up; a kernel without IPv6 has no such sysctl.
 */
export const setupAcceptRA: Step<NetworkContext> = {
  name: 'accept_ra',
  async run(ctx) {
    const key = bridgeSysctl(ctx.net, 'ipv6', 'accept_ra')
    let now: string
    try {
      now = ctx.res.host.readSysctl(key)
    } catch (err) {
      if (hasErrorCode(err, 'ENOENT')) return
      throw err
    }
    if (now === '0') return
    notePriorSysctl(ctx, key)
    ctx.res.host.writeSysctl(key, '0')
  },
  async undo(ctx) {
    restoreBridgeSysctl(ctx, bridgeSysctl(ctx.net, 'ipv6', 'accept_ra'))
  },
}
