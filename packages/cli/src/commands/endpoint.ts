import type { EndpointInspect } from '@cnm/controller'
import type { Command } from 'commander'
import { globalOptions, type OpenController, withController } from '../context.js'
import { type EndpointFlags, endpointOptions } from '../endpoint-options.js'
import { createEndpoint } from '../ops/endpoint.js'
import { type Output, printJSON, printList, shortId } from '../output.js'
import { formatPortBinding } from '../publish-spec.js'
import { allEndpoints, findEndpoint, findNetwork, findSandbox } from '../refs.js'
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
}

function sandboxLabel(c: OpenController, e: EndpointInspect): string {
  if (!e.joined) return e.sandboxKey ? `(in ${e.sandboxKey})` : ''
  return c.sandboxByID(e.joined.sandboxId)?.containerID || e.joined.key
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
        const options = endpointOptions(opts)
        await withController(globalOptions(cmd), async (c) => {
          const net = findNetwork(c, netRef)
          const sb = opts.sandbox === undefined ? undefined : findSandbox(c, opts.sandbox)
          const ep = await createEndpoint(net, name, options, sb)
          if (opts.json) printJSON(io, ep.inspect())
          else io.out(`${ep.id}\n`)
        })
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
      await withController(globalOptions(cmd), async (c) => {
        const eps = (netRef === undefined ? allEndpoints(c) : findNetwork(c, netRef).endpoints()).map((e) =>
          e.inspect(),
        )
        if (opts.json) return printJSON(io, eps)
        const rows = eps.map((e) => [
          opts.quiet ? e.id : shortId(e.id),
          e.name,
          e.network.name,
          e.ipv4 ?? '',
          e.ipv6 ?? '',
          sandboxLabel(c, e),
          e.ports.map(formatPortBinding).join(','),
        ])
        printList(io, ['ENDPOINT ID', 'NAME', 'NETWORK', 'IPV4', 'IPV6', 'SANDBOX', 'PORTS'], rows, opts.quiet)
      })
    })

  endpoint
    .command('inspect')
    .description('print endpoints of a network as JSON (an array)')
    .argument('<network>', 'network name or id')
    .argument('<endpoint...>', 'endpoint names or ids')
    .action(async (netRef: string, refs: string[], _opts: unknown, cmd: Command) => {
      await withController(globalOptions(cmd), async (c) => {
        const net = findNetwork(c, netRef)
        printJSON(
          io,
          refs.map((r) => findEndpoint(net, r).inspect()),
        )
      })
    })

  endpoint
    .command('rm')
    .alias('remove')
    .description('remove endpoints (leaving their sandbox first); stops at the first failure')
    .argument('<network>', 'network name or id')
    .argument('<endpoint...>', 'endpoint names or ids')
    .action(async (netRef: string, refs: string[], _opts: unknown, cmd: Command) => {
      await withController(globalOptions(cmd), async (c) => {
        const net = findNetwork(c, netRef)
        for (const ref of refs) {
          const ep = findEndpoint(net, ref)
          await ep.delete()
          io.out(`${ep.name}\n`)
        }
      })
    })
}
