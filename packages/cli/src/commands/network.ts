import type { NetworkCreate } from '@cnm/client'
import type { Command } from 'commander'
import { withApi } from '../backend.js'
import { type NetworkFlags, networkOptions, parseBool, parseInteger, parseOpt } from '../network-options.js'
import { type Output, printJSON, printList, shortId } from '../output.js'
import { collect, type ListOptions } from './shared.js'

interface CreateOptions extends NetworkFlags {
  driver: string
  json?: boolean
}

/** The flags as the REST body; checked here first (bad input never reaches the daemon or the store). */
function createBody(name: string, opts: CreateOptions): NetworkCreate {
  networkOptions(opts) // refuses bad input before anything is contacted
  const options = Object.fromEntries((opts.opt ?? []).map(parseOpt))
  return {
    name,
    driver: opts.driver,
    ...(opts.subnet ? { subnet: opts.subnet } : {}),
    ...(opts.gateway ? { gateway: opts.gateway } : {}),
    ...(opts.ipRange === undefined ? {} : { ipRange: opts.ipRange }),
    ...(opts.ipv6 ? { ipv6: true } : {}),
    ...(opts.internal ? { internal: true } : {}),
    ...(opts.icc === undefined ? {} : { icc: parseBool(opts.icc, '--icc') }),
    ...(opts.mtu === undefined ? {} : { mtu: parseInteger(opts.mtu, '--mtu', 68, 65535) }),
    ...(opts.opt?.length ? { options } : {}),
  }
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
      const body = createBody(name, opts)
      const net = await withApi(cmd, (api) => api.createNetwork(body))
      if (opts.json) printJSON(io, net)
      else io.out(`${net.id}\n`)
    })

  network
    .command('ls')
    .alias('list')
    .description('list networks')
    .option('--json', 'print JSON (an array of network objects)')
    .option('-q, --quiet', 'print only ids')
    .action(async (opts: ListOptions, cmd: Command) => {
      const nets = await withApi(cmd, (api) => api.listNetworks())
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

  network
    .command('inspect')
    .description('print networks as JSON (an array)')
    .argument('<network...>', 'network names or ids')
    .action(async (refs: string[], _opts: unknown, cmd: Command) => {
      const nets = await withApi(cmd, async (api) => {
        const out = []
        for (const r of refs) out.push(await api.inspectNetwork(r))
        return out
      })
      printJSON(io, nets)
    })

  network
    .command('rm')
    .alias('remove')
    .description('remove networks (they must have no endpoints); stops at the first failure')
    .argument('<network...>', 'network names or ids')
    .action(async (refs: string[], _opts: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        for (const ref of refs) io.out(`${(await api.removeNetwork(ref)).name}\n`)
      })
    })
}
