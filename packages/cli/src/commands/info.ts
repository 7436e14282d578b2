import type { Info } from '@cnm/client'
import type { Command } from 'commander'
import { withApi } from '../backend.js'
import { type Output, printJSON } from '../output.js'
import { cliVersion } from '../version.js'

function lines(info: Info & { client: string; daemonAddress: string; why?: string }): string {
  const mode =
    info.mode === 'daemon'
      ? `daemon (pid ${info.pid}) at ${info.daemonAddress}`
      : info.why === 'store given'
        ? 'in-process (--store or --sandbox-dir given)'
        : `in-process (no daemon answers at ${info.daemonAddress})`
  const rows: [string, string][] = [
    ['mode', mode],
    ['cnm', `${info.version}${info.client === info.version ? '' : ` (this command: ${info.client})`}`],
    ['node', info.node],
    ['store', info.store],
    ['sandbox dir', info.sandboxDir],
    ['firewall', info.firewall],
    ['drivers', info.drivers.join(', ')],
    ['daemon address', info.daemonAddress],
  ]
  if (info.mode === 'daemon') rows.push(['listening on', info.listeners.join(', ')])
  rows.push(
    ['networks', String(info.networks)],
    ['endpoints', String(info.endpoints)],
    ['sandboxes', String(info.sandboxes)],
    ['published ports', `${info.ports} (${info.heldPorts} host ports held by this process)`],
  )
  const width = Math.max(...rows.map(([k]) => k.length)) + 1
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}\n`).join('')
}

/** `cnm info`. */
export function registerInfoCommand(program: Command, io: Output): void {
  program
    .command('info')
    .description('where cnm works (the daemon, or in process), versions, store, firewall backend, counts')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const out = await withApi(cmd, async (api, mode) => ({
        ...(await api.info()),
        client: cliVersion(),
        daemonAddress: mode.host,
        ...(mode.kind === 'in-process' ? { why: mode.why } : {}),
      }))
      if (opts.json) printJSON(io, out)
      else io.out(lines(out))
    })
}
