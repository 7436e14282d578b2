import type { NetworkContext } from '../resources.js'
import type { Step } from './step.js'

/**
 * Turns on IP forwarding (v4, and v6 for IPv6 networks) when the network asks and the driver
 * allows it. Never turned back off: other networks, and other software, rely on it (as Docker).
 */
export const setupIPForwarding: Step<NetworkContext> = {
  name: 'ip forwarding',
  async run({ res, net }) {
    if (!net.config.enableIPForwarding || !res.config.enableIPForwarding || net.config.internal) return
    if (res.host.readSysctl('net/ipv4/ip_forward') !== '1') res.host.writeSysctl('net/ipv4/ip_forward', '1')
    if (net.config.enableIPv6 && res.host.readSysctl('net/ipv6/conf/all/forwarding') !== '1') {
      res.host.writeSysctl('net/ipv6/conf/all/forwarding', '1')
    }
  },
  async undo() {},
}
