import type { Command } from 'commander'
import { globalOptions, withController } from '../context.js'
import { type Output, printJSON, printList } from '../output.js'
import { formatPortBinding } from '../publish-spec.js'
import { findNetwork } from '../refs.js'

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
      await withController(globalOptions(cmd), async (c) => {
        const only = opts.network === undefined ? undefined : findNetwork(c, opts.network).name
        const ports = c.ports().filter((p) => only === undefined || p.network === only)
        if (opts.json) return printJSON(io, ports)
        const rows = ports.map((p) => [p.network, p.endpoint, p.containerIP, formatPortBinding(p)])
        printList(io, ['NETWORK', 'ENDPOINT', 'CONTAINER IP', 'PORT'], rows, false)
      })
    })
}
