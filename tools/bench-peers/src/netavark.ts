// netavark from Debian's `netavark`: `netavark setup|teardown <nsPath>` with its JSON network
// options on stdin, forced onto its iptables firewall driver.
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { nthHost } from '@cnm/ipallocator'
import { createPeerNamespace, createScratchDir } from './netns.js'
import { checkHostPort, checkIndex, hexId, type Peer, type PeerOptions } from './peer.js'
import { childEnv, DEFAULT_TIMEOUT_MS, isExecutable, type RunResult, run, which } from './run.js'

/** Where Debian (and others) put netavark; it is not on PATH in Debian's package. */
export const NETAVARK_PATHS = [
  '/usr/lib/podman/netavark',
  '/usr/libexec/podman/netavark',
  '/usr/local/libexec/podman/netavark',
]

export function findNetavark(preferred?: string): string | undefined {
  const candidates = preferred ? [preferred, ...NETAVARK_PATHS] : NETAVARK_PATHS
  return candidates.find(isExecutable) ?? which('netavark')
}

export interface NetavarkPeerOptions extends PeerOptions {
  binary?: string
  /** `NETAVARK_FW`. Default: `iptables`. */
  firewallDriver?: string
}

/** The netavark peer in a new namespace of its own (see {@link Peer}). */
export async function createNetavarkPeer(opts: NetavarkPeerOptions = {}): Promise<Peer> {
  const {
    bridge = 'nvbench0',
    subnet = '10.202.0.0/16',
    networkName = 'nvbench',
    hostPortBase = 21000,
    containerPort = 80,
    protocol = 'tcp',
    ifname = 'eth0',
    firewallDriver = 'iptables',
    timeoutMs = DEFAULT_TIMEOUT_MS,
  } = opts
  const binary = findNetavark(opts.binary)
  if (!binary) throw new Error('netavark not found (run ensurePeersInstalled() first)')
  const gateway = nthHost(subnet, 1)
  const ns = await createPeerNamespace('netavark', opts.netnsDir)
  const state = createScratchDir('nvbench')
  const configDir = path.join(state.path, 'config') // netavark --config: aardvark/lock state
  mkdirSync(configDir, { mode: 0o700 })
  const attached = new Set<number>()
  const networkId = hexId('nvbench-network', networkName, bridge)
  const env = childEnv({ NETAVARK_FW: firewallDriver })
  const hostPort = (i: number): number => checkHostPort(hostPortBase + i)
  const hostAt = (i: number): string => nthHost(subnet, i + 2)

  /** netavark 1.4's NetworkOptions: podman does the IPAM, so the address comes as static_ips. */
  function networkOptions(i: number): unknown {
    return {
      container_id: hexId('nvbench', networkName, String(i)),
      container_name: `${networkName}-${i}`,
      port_mappings: [{ host_ip: '', container_port: containerPort, host_port: hostPort(i), range: 1, protocol }],
      networks: {
        [networkName]: { interface_name: ifname, static_ips: [hostAt(i)], aliases: [] },
      },
      network_info: {
        [networkName]: {
          name: networkName,
          id: networkId,
          driver: 'bridge',
          network_interface: bridge,
          subnets: [{ subnet, gateway }],
          ipv6_enabled: false,
          internal: false,
          dns_enabled: false,
          ipam_options: { driver: 'host-local' },
        },
      },
    }
  }

  function netavark(command: 'setup' | 'teardown', nsPath: string, i: number): Promise<RunResult> {
    const input = JSON.stringify(networkOptions(i))
    return run(binary as string, ['--config', configDir, command, nsPath], { env, input, timeoutMs, netns: ns.path })
  }

  return {
    name: 'netavark',
    kind: 'netavark',
    netns: ns.path,
    bridge,
    subnet,
    gateway,
    containerPort,
    hostPort,
    addressOf(i) {
      return attached.has(i) ? hostAt(i) : undefined
    },
    async attach(i, nsPath) {
      checkIndex(i)
      if (attached.has(i)) throw new Error(`container ${i} already attached`)
      let status: Record<string, { interfaces?: Record<string, unknown> }> | undefined
      try {
        status = JSON.parse((await netavark('setup', nsPath, i)).stdout)
      } catch (err) {
        await netavark('teardown', nsPath, i).catch(() => {})
        throw new Error(`netavark setup: ${(err as Error).message}`, { cause: err })
      }
      if (!status?.[networkName]?.interfaces?.[ifname]) {
        await netavark('teardown', nsPath, i).catch(() => {})
        throw new Error(`netavark setup returned no ${ifname}: ${JSON.stringify(status)}`)
      }
      attached.add(i)
    },
    async detach(i, nsPath) {
      checkIndex(i)
      try {
        await netavark('teardown', nsPath, i)
      } catch (err) {
        throw new Error(`netavark teardown: ${(err as Error).message}`, { cause: err })
      }
      attached.delete(i)
    },
    async cleanup() {
      attached.clear()
      ns.remove()
      state.remove()
    },
  }
}
