import type { Command } from 'commander'
import { withApi } from '../backend.js'
import type { EndpointFlags } from '../endpoint-options.js'
import { type Output, printJSON } from '../output.js'
import { addEndpointOptions, endpointFields } from './endpoint.js'

/** `cnm connect` and `cnm disconnect`. */
export function registerConnectCommands(program: Command, io: Output): void {
  addEndpointOptions(
    program
      .command('connect')
      .description('connect a sandbox to a network: an endpoint inside it, joined (prints the endpoint id)')
      .argument('<network>', 'network name or id')
      .argument('<sandbox>', 'sandbox id, container id or key')
      .option(
        '--endpoint <name>',
        'join this existing endpoint (made by `endpoint create` without --sandbox), else create one by that name (default: the container id)',
      ),
  )
    .option('--json', 'print the endpoint as JSON instead of its id')
    .action(async (netRef: string, sbRef: string, opts: EndpointFlags & { endpoint?: string; json?: boolean }, cmd) => {
      const body = {
        sandbox: sbRef,
        ...endpointFields(opts),
        ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
      }
      const ep = await withApi(cmd, (api) => api.connect(netRef, body))
      if (opts.json) printJSON(io, ep)
      else io.out(`${ep.id}\n`)
    })

  program
    .command('disconnect')
    .description('disconnect a sandbox from a network: its endpoints there leave it and are removed')
    .argument('<network>', 'network name or id')
    .argument('<sandbox>', 'sandbox id, container id or key')
    .action(async (netRef: string, sbRef: string, _opts: unknown, cmd: Command) => {
      const gone = await withApi(cmd, (api) => api.disconnect(netRef, { sandbox: sbRef }))
      io.out(gone.map((e) => `${e.name}\n`).join(''))
    })
}
