import type { Endpoint, EndpointCreate, Sandbox } from '@cnm/client'
import type { Command } from 'commander'
import { withApi } from '../backend.js'
import { dockerNetworkIdOf, refuseDockerOwned } from '../docker-owned.js'
import { type EndpointFlags, endpointOptions } from '../endpoint-options.js'
import { type Output, printJSON, printList, shortId } from '../output.js'
import { formatPortBinding } from '../publish-spec.js'
import { collect, type ListOptions } from './shared.js'

/** The endpoint options `endpoint create` and `connect` share. */
export function addEndpointOptions(cmd: Command): Command {
  return cmd
    .option(
      '-p, --publish <spec>',
      'publish a port: [hostIP:][hostPort:]containerPort[/proto], ranges allowed (repeatable)',
      collect,
    )
    .option('--ip <address>', 'preferred IPv4 address')
    .option('--ip6 <address>', 'preferred IPv6 address')
    .option('--mac-address <mac>', 'MAC address of the container interface')
    .option('--alias <name>', 'a DNS name it also answers to on the network (repeatable)', collect)
}

/** The endpoint flags as REST body fields; checked here first (bad input never leaves the process). */
export function endpointFields(
  opts: EndpointFlags & { alias?: string[] },
): Pick<EndpointCreate, 'publish' | 'ip' | 'ip6' | 'macAddress' | 'aliases'> {
  endpointOptions(opts)
  return {
    ...(opts.alias?.length ? { aliases: opts.alias } : {}),
    ...(opts.publish?.length ? { publish: opts.publish } : {}),
    ...(opts.ip === undefined ? {} : { ip: opts.ip }),
    ...(opts.ip6 === undefined ? {} : { ip6: opts.ip6 }),
    ...(opts.macAddress === undefined ? {} : { macAddress: opts.macAddress }),
  }
}

function sandboxLabel(sandboxes: Sandbox[], e: Endpoint): string {
  if (!e.joined) return e.sandboxKey ? `(in ${e.sandboxKey})` : ''
  const id = e.joined.sandboxId
  return sandboxes.find((s) => s.id === id)?.containerID || e.joined.key
}

/** `cnm endpoint create|ls|inspect|rm`. */
export function registerEndpointCommands(program: Command, io: Output): void {
  const endpoint = program.command('endpoint').description('manage endpoints (a network interface of a sandbox)')

  addEndpointOptions(
    endpoint
      .command('create')
      .description('create an endpoint on a network (prints its id)')
      .argument('<network>', 'network name or id')
      .argument('<name>', 'endpoint name')
      .option('--sandbox <sandbox>', 'create it inside this sandbox and join it'),
  )
    .option('--json', 'print the endpoint as JSON instead of its id')
    .action(
      async (
        netRef: string,
        name: string,
        opts: EndpointFlags & { sandbox?: string; json?: boolean },
        cmd: Command,
      ) => {
        const body = { name, ...endpointFields(opts), ...(opts.sandbox === undefined ? {} : { sandbox: opts.sandbox }) }
        const ep = await withApi(cmd, (api) => api.createEndpoint(netRef, body))
        if (opts.json) printJSON(io, ep)
        else io.out(`${ep.id}\n`)
      },
    )

  endpoint
    .command('ls')
    .alias('list')
    .description('list endpoints, of one network or of all')
    .argument('[network]', 'network name or id')
    .option('--json', 'print JSON (an array of endpoint objects)')
    .option('-q, --quiet', 'print only ids')
    .action(async (netRef: string | undefined, opts: ListOptions, cmd: Command) => {
      const [eps, sandboxes] = await withApi(cmd, async (api) => {
        const list = await (netRef === undefined ? api.listEndpoints() : api.listNetworkEndpoints(netRef))
        const joined = !opts.json && list.some((e) => e.joined)
        return [list, joined ? await api.listSandboxes() : []] as const
      })
      if (opts.json) return printJSON(io, eps)
      const rows = eps.map((e) => [
        opts.quiet ? e.id : shortId(e.id),
        e.name,
        e.network.name,
        e.ipv4 ?? '',
        e.ipv6 ?? '',
        sandboxLabel(sandboxes, e),
        e.ports.map(formatPortBinding).join(','),
      ])
      printList(io, ['ENDPOINT ID', 'NAME', 'NETWORK', 'IPV4', 'IPV6', 'SANDBOX', 'PORTS'], rows, opts.quiet)
    })

  endpoint
    .command('inspect')
    .description('print endpoints of a network as JSON (an array)')
    .argument('<network>', 'network name or id')
    .argument('<endpoint...>', 'endpoint names or ids')
    .action(async (netRef: string, refs: string[], _opts: unknown, cmd: Command) => {
      const eps = await withApi(cmd, async (api) => {
        const out = []
        for (const r of refs) out.push(await api.inspectEndpoint(netRef, r))
        return out
      })
      printJSON(io, eps)
    })

  endpoint
    .command('rm')
    .alias('remove')
    .description('remove endpoints (leaving their sandbox first); stops at the first failure')
    .argument('<network>', 'network name or id')
    .argument('<endpoint...>', 'endpoint names or ids')
    .option('-f, --force', 'remove it even if dockerd made it (dockerd is not told)')
    .action(async (netRef: string, refs: string[], opts: { force?: boolean }, cmd: Command) => {
      await withApi(cmd, async (api) => {
        if (!opts.force) {
          const net = (await api.inspectNetwork(netRef)).name
          if (dockerNetworkIdOf(net) !== undefined) refuseDockerOwned('endpoint', refs.join(', '), net)
        }
        for (const ref of refs) io.out(`${(await api.removeEndpoint(netRef, ref)).name}\n`)
      })
    })
}
