import { writeFileSync } from 'node:fs'
import { createNetns, deleteNetns } from '../namespace.js'
import { Agent } from './agent.js'
import type { HostNetns } from './host-netns.js'
import { uniqueName } from './names.js'
import { run } from './run.js'

/** A namespace playing a container (or another machine), with its agent. */
export interface Node {
  name: string
  netns: string
  /** The link in the host namespace that leads to it. */
  veth: string
  ip4: string
  ip6: string
  agent: Agent
}

/** Everything a test built, to remove in reverse. */
export class Topology {
  readonly #host: HostNetns
  readonly #undo: (() => void | Promise<void>)[] = []

  constructor(host: HostNetns) {
    this.#host = host
  }

  /**
   * A bridge with a gateway address per family (`10.1.0.1/24`, `fd00:1::1/64`), up, and
   * `route_localnet=1` so `127.0.0.1` reaches ports published to it: set up as the bridge driver
   * sets up its bridges (the firewall writes rules only).
   */
  bridge(gw4: string, gw6: string): string {
    const name = uniqueName('br')
    run('ip', ['link', 'add', name, 'type', 'bridge'])
    this.#undo.push(() => void run('ip', ['link', 'del', name], { check: false }))
    run('ip', ['addr', 'add', gw4, 'dev', name])
    run('ip', ['addr', 'add', gw6, 'dev', name, 'nodad'])
    run('ip', ['link', 'set', name, 'up'])
    // Synchronous, from the main thread: /proc/sys/net is the calling thread's namespace's.
    writeFileSync(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, '1')
    return name
  }

  async #node(
    name: string,
    ip4: string,
    ip6: string,
    gw4: string,
    gw6: string,
    attach: (veth: string) => void,
  ): Promise<Node> {
    const netns = this.#host.netnsPath(name.slice(0, 6))
    await createNetns(netns)
    this.#undo.push(() => deleteNetns(netns))
    const veth = uniqueName('v')
    run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns])
    this.#undo.push(() => void run('ip', ['link', 'del', veth], { check: false }))
    attach(veth)
    run('ip', ['link', 'set', veth, 'up'])
    const inside = (args: string[]): void => void run('ip', args, { netns })
    // No duplicate address detection: link-local addresses would stay tentative for a second,
    // and the first IPv6 packets with them.
    run('sysctl', ['-qw', 'net.ipv6.conf.eth0.accept_dad=0'], { netns })
    inside(['addr', 'add', ip4, 'dev', 'eth0'])
    inside(['addr', 'add', ip6, 'dev', 'eth0', 'nodad'])
    inside(['link', 'set', 'eth0', 'up'])
    inside(['link', 'set', 'lo', 'up'])
    inside(['route', 'add', 'default', 'via', gw4])
    inside(['-6', 'route', 'add', 'default', 'via', gw6])
    const agent = await Agent.start(name, netns)
    this.#undo.push(() => agent.stop())
    return { name, netns, veth, ip4: ip4.split('/')[0] ?? '', ip6: ip6.split('/')[0] ?? '', agent }
  }

  /** A container on `bridge`: `ip4`/`ip6` with prefix, default routes via the gateways. */
  container(
    name: string,
    bridge: string,
    ip4: string,
    ip6: string,
    gw4: string,
    gw6: string,
    hairpin = false,
  ): Promise<Node> {
    return this.#node(name, ip4, ip6, gw4, gw6, (veth) => {
      run('ip', ['link', 'set', veth, 'master', bridge])
      if (hairpin) run('ip', ['link', 'set', 'dev', veth, 'type', 'bridge_slave', 'hairpin', 'on'])
    })
  }

  /**
   * Another machine: a namespace on a point-to-point link to the host, the host side holding
   * `host4`/`host6` (the host's address that published ports are reached through).
   */
  machine(name: string, ip4: string, ip6: string, host4: string, host6: string): Promise<Node> {
    return this.#node(name, ip4, ip6, host4.split('/')[0] ?? '', host6.split('/')[0] ?? '', (veth) => {
      run('ip', ['addr', 'add', host4, 'dev', veth])
      run('ip', ['addr', 'add', host6, 'dev', veth, 'nodad'])
    })
  }

  /** Removes everything, last made first; reports every failure. */
  async remove(): Promise<void> {
    const errors: unknown[] = []
    for (const undo of this.#undo.reverse()) {
      try {
        await undo()
      } catch (err) {
        errors.push(err)
      }
    }
    this.#undo.length = 0
    if (errors.length > 0) throw new AggregateError(errors, 'topology teardown failed')
  }
}

/**
 * Forwarding on in the namespace playing the host (the bridge driver's job in real use), and no
 * duplicate address detection on the links made after this (it would delay IPv6 by a second).
 */
export function enableForwarding(): void {
  run('sysctl', [
    '-qw',
    'net.ipv4.ip_forward=1',
    'net.ipv6.conf.all.forwarding=1',
    'net.ipv6.conf.default.accept_dad=0',
  ])
}

/** Whether `ping` from a namespace gets an answer (within half a second). */
export function pingsFrom(netns: string, ip: string): boolean {
  return run('ping', ['-c', '1', '-W', '0.5', '-n', '-q', ip], { netns, check: false, timeoutMs: 5000 }).status === 0
}
