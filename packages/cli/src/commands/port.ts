import type { Command } from 'commander'
import { withApi } from '../backend.js'
import { type Output, printJSON, printList } from '../output.js'
import { formatPortBinding } from '../publish-spec.js'

/** `cnm port ls`. */
export function registerPortCommands(program: Command, io: Output): void {
  const port = program.command('port').description('published ports')
  port
    .command('ls')
    .alias('list')
    .description('list published ports')
    .option('--network <network>', 'only this network')
    .option('--json', 'print JSON (an array of port objects)')
    .action(async (opts: { network?: string; json?: boolean }, cmd: Command) => {
      const query = opts.network === undefined ? {} : { network: opts.network }
      const ports = await withApi(cmd, (api) => api.listPorts(query))
      if (opts.json) return printJSON(io, ports)
      const rows = ports.map((p) => [p.network, p.endpoint, p.containerIP, formatPortBinding(p)])
      printList(io, ['NETWORK', 'ENDPOINT', 'CONTAINER IP', 'PORT'], rows, false)
    })
}
