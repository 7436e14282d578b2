import type { Command } from 'commander'
import { globalOptions, withController } from '../context.js'
import { type NetworkFlags, networkOptions } from '../network-options.js'
import { createNetwork } from '../ops/network.js'
import { type Output, printJSON, printList, shortId } from '../output.js'
import { findNetwork } from '../refs.js'
import { collect, type ListOptions } from './shared.js'

interface CreateOptions extends NetworkFlags {
  driver: string
  json?: boolean
}

/** `cnm network create|ls|inspect|rm`. */
export function registerNetworkCommands(program: Command, io: Output): void {
  const network = program.command('network').description('manage networks')

  network
    .command('create')
    .description('create a network (prints its id)')
    .argument('<name>', 'network name')
    .option('-d, --driver <driver>', 'network driver (bridge, macvlan, null)', 'bridge')
    .option('--subnet <cidr>', "subnet, Docker's meaning (one IPv4, one IPv6 with --ipv6)", collect)
    .option('--gateway <ip>', 'gateway of the subnet (default: its first host)', collect)
    .option('--ip-range <cidr>', 'allocate IPv4 addresses from this range of the subnet')
    .option('--ipv6', 'enable IPv6')
    .option('--internal', 'no traffic in or out through the host')
    .option('--icc <bool>', 'inter-container communication (--icc=false turns it off)')
    .option('--mtu <bytes>', 'MTU of the bridge and the veths')
    .option(
      '-o, --opt <key=value>',
      'any other driver option, e.g. -o bridgeName=br0, -o parent=eth1 (repeatable)',
      collect,
    )
    .option('--json', 'print the network as JSON instead of its id')
    .action(async (name: string, opts: CreateOptions, cmd: Command) => {
      const options = networkOptions(opts)
      await withController(globalOptions(cmd), async (c) => {
        const net = await createNetwork(c, name, opts.driver, options)
        if (opts.json) printJSON(io, net.inspect())
        else io.out(`${net.id}\n`)
      })
    })

  network
    .command('ls')
    .alias('list')
    .description('list networks')
    .option('--json', 'print JSON (an array of network objects)')
    .option('-q, --quiet', 'print only ids')
    .action(async (opts: ListOptions, cmd: Command) => {
      await withController(globalOptions(cmd), async (c) => {
        const nets = c.networks().map((n) => n.inspect())
        if (opts.json) return printJSON(io, nets)
        const rows = nets.map((n) => [
          opts.quiet ? n.id : shortId(n.id),
          n.name,
          n.driver,
          n.device ?? '',
          [n.subnet, n.subnetIPv6].filter(Boolean).join(','),
          [n.gateway, n.gatewayIPv6].filter(Boolean).join(','),
          String(n.endpoints.length),
        ])
        printList(io, ['NETWORK ID', 'NAME', 'DRIVER', 'DEVICE', 'SUBNET', 'GATEWAY', 'ENDPOINTS'], rows, opts.quiet)
      })
    })

  network
    .command('inspect')
    .description('print networks as JSON (an array)')
    .argument('<network...>', 'network names or ids')
    .action(async (refs: string[], _opts: unknown, cmd: Command) => {
      await withController(globalOptions(cmd), async (c) => {
        printJSON(
          io,
          refs.map((r) => findNetwork(c, r).inspect()),
        )
      })
    })

  network
    .command('rm')
    .alias('remove')
    .description('remove networks (they must have no endpoints); stops at the first failure')
    .argument('<network...>', 'network names or ids')
    .action(async (refs: string[], _opts: unknown, cmd: Command) => {
      await withController(globalOptions(cmd), async (c) => {
        for (const ref of refs) {
          const net = findNetwork(c, ref)
          await net.delete()
          io.out(`${net.name}\n`)
        }
      })
    })
}
