import type { NetworkCreate } from '@cnm/client'
import type { Command } from 'commander'
import { withApi } from '../backend.js'
import { dockerListView, dockerNetworkView } from '../docker-view.js'
import { invalidArgument } from '../errors.js'
import { parseFormat, renderFormatted } from '../go-format.js'
import { matchesNetwork, parseNetworkFilters } from '../network-filter.js'
import {
  type NetworkFlags,
  networkSpec,
  parseAuxAddressFlags,
  parseBool,
  parseInteger,
  parseOpt,
} from '../network-options.js'
import { type Output, printJSON, printList, shortId } from '../output.js'
import { pruneFilterBody } from '../prune-filters.js'
import { confirm, type FilterFormat, pruneNetworks, removeNetworks } from './network-remove.js'
import { collect, type ListOptions } from './shared.js'

interface CreateOptions extends NetworkFlags {
  driver: string
  json?: boolean
  label?: string[]
}

/** `--label KEY=VALUE` flags (Docker's: `KEY` alone is an empty value; the last of a key wins). */
export function parseLabelFlags(texts: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {}
  for (const text of texts) {
    const eq = text.indexOf('=')
    const key = eq < 0 ? text : text.slice(0, eq)
    if (key === '') throw invalidArgument(`--label ${JSON.stringify(text)} must be KEY=VALUE (a key is needed)`)
    out[key] = eq < 0 ? '' : text.slice(eq + 1)
  }
  return out
}

/** The flags as the REST body; checked here first (bad input never reaches the daemon or the store). */
function createBody(name: string, opts: CreateOptions): NetworkCreate {
  networkSpec(opts) // refuses bad input before anything is contacted
  const options: Record<string, unknown> = Object.fromEntries((opts.opt ?? []).map(parseOpt))
  if (opts.ipv4 !== undefined && !parseBool(opts.ipv4, '--ipv4')) options.enableIPv4 = false
  const labels = parseLabelFlags(opts.label)
  return {
    name,
    driver: opts.driver,
    ...(opts.subnet ? { subnet: opts.subnet } : {}),
    ...(opts.gateway ? { gateway: opts.gateway } : {}),
    ...(opts.ipRange === undefined ? {} : { ipRange: opts.ipRange }),
    ...(opts.auxAddress?.length ? { auxAddress: parseAuxAddressFlags(opts.auxAddress) } : {}),
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
    ...(opts.ipv6 ? { ipv6: true } : {}),
    ...(opts.internal ? { internal: true } : {}),
    ...(opts.icc === undefined ? {} : { icc: parseBool(opts.icc, '--icc') }),
    ...(opts.mtu === undefined ? {} : { mtu: parseInteger(opts.mtu, '--mtu', 68, 65535) }),
    ...(Object.keys(options).length > 0 ? { options } : {}),
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
    .option('--subnet <cidr>', "subnet, Docker's meaning (repeatable; IPv6 ones with --ipv6)", collect)
    .option('--gateway <ip>', 'gateway of the subnet that holds it (default: its first host)', collect)
    .option('--ip-range <cidr>', 'allocate addresses from this range of the subnet that holds it', collect)
    .option('--ipv6', 'enable IPv6')
    .option('--ipv4 <bool>', '--ipv4=false: an IPv6-only network (with --ipv6)')
    .option('--internal', 'no traffic in or out through the host')
    .option('--icc <bool>', 'inter-container communication (--icc=false turns it off)')
    .option('--mtu <bytes>', 'MTU of the bridge and the veths')
    .option('--aux-address <name=ip>', 'an address of the subnet reserved, never handed out (repeatable)', collect)
    .option(
      '--label <key=value>',
      'metadata on the network (repeatable), shown by inspect, matched by --filter',
      collect,
    )
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
    .option('-f, --filter <key=value>', 'name, id, driver, label, scope or type (repeatable, as Docker)', collect)
    .option('--format <template>', 'Go-template-like: {{.Name}}, {{.ID}}, {{json .IPAM}}, "table {{.ID}}\\t{{.Name}}"')
    .action(async (opts: ListOptions & FilterFormat, cmd: Command) => {
      const filters = parseNetworkFilters(opts.filter)
      const format = opts.format === undefined ? undefined : parseFormat(opts.format)
      const nets = (await withApi(cmd, (api) => api.listNetworks())).filter((n) => matchesNetwork(n, filters))
      if (format) return io.out(renderFormatted(format, nets.map(dockerListView)))
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
    .option('-f, --format <template>', 'Go-template-like: {{.Name}}, {{json .IPAM}}, {{.IPAM.Config}}')
    .action(async (refs: string[], opts: Pick<FilterFormat, 'format'>, cmd: Command) => {
      const format = opts.format === undefined ? undefined : parseFormat(opts.format)
      const nets = await withApi(cmd, async (api) => {
        const out = []
        for (const r of refs) out.push(await api.inspectNetwork(r))
        return out
      })
      if (format) io.out(renderFormatted(format, nets.map(dockerNetworkView)))
      else printJSON(io, nets)
    })

  network
    .command('rm')
    .alias('remove')
    .description('remove networks (they must have no endpoints, unless -f); each is tried, failures reported')
    .argument('<network...>', 'network names or ids')
    .option('-f, --force', 'disconnect and remove its endpoints first')
    .action(async (refs: string[], opts: { force?: boolean }, cmd: Command) => {
      await withApi(cmd, (api) => removeNetworks(api, io, refs, opts.force === true))
    })

  network
    .command('prune')
    .description('remove every network without endpoints (asks first, unless -f)')
    .option('-f, --force', 'do not ask')
    .option(
      '--filter <key=value>',
      "Docker's prune filters: until=24h (or a timestamp), label=k[=v], label!=k[=v]",
      collect,
    )
    .action(async (opts: { force?: boolean; filter?: string[] }, cmd: Command) => {
      const filters = pruneFilterBody(opts.filter)
      if (!opts.force && !(await confirm(io, 'WARNING! This will remove all networks without endpoints.'))) return
      await withApi(cmd, (api) => pruneNetworks(api, io, filters))
    })
}
