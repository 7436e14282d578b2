import type { ReconcileReport } from '@cnm/controller'
import type { Command } from 'commander'
import { globalOptions, withController } from '../context.js'
import { CliError, ERR_RECONCILE_INCOMPLETE } from '../errors.js'
import { type Output, printJSON } from '../output.js'

const LABELS: Record<keyof ReconcileReport, string> = {
  rebuiltNetworks: 'rebuilt networks',
  droppedEndpoints: 'dropped endpoints (veth gone)',
  droppedSandboxes: 'dropped sandboxes (namespace gone)',
  removedLinks: 'removed stray links',
  removedFirewallNetworks: 'removed stray firewall networks',
  removedFirewallPorts: 'removed stray published ports',
  removedNamespaces: 'removed stray namespaces',
  errors: 'errors',
}

/** Two reports as one (what opening the controller found, then what the explicit pass found). */
export function mergeReports(a: ReconcileReport, b: ReconcileReport): ReconcileReport {
  const out = { ...a }
  for (const key of Object.keys(LABELS) as (keyof ReconcileReport)[]) out[key] = [...a[key], ...b[key]]
  return out
}

/** A report as text lines; "nothing to repair" when empty. */
export function formatReport(report: ReconcileReport): string {
  const lines = (Object.keys(LABELS) as (keyof ReconcileReport)[])
    .filter((k) => report[k].length > 0)
    .map((k) => `${LABELS[k]}: ${report[k].join(', ')}\n`)
  return lines.length > 0 ? lines.join('') : 'nothing to repair: the store and the kernel agree\n'
}

/** `cnm reconcile`. */
export function registerReconcileCommand(program: Command, io: Output): void {
  program
    .command('reconcile')
    .description('compare the store with the kernel and repair both ways (exits 1 if errors remain)')
    .option('--json', 'print the report as JSON')
    .option(
      '--remove-orphans',
      'the store was emptied (ERR_STORE_MISMATCH): take its recorded id back and remove every object marked with it',
    )
    .action(async (opts: { json?: boolean; removeOrphans?: boolean }, cmd: Command) => {
      const report = await withController(
        globalOptions(cmd),
        async (c) => mergeReports(c.lastReconcile, await c.reconcile()),
        opts.removeOrphans ? { onStoreMismatch: 'remove-orphans' } : {},
      )
      if (opts.json) printJSON(io, report)
      else io.out(formatReport(report))
      if (report.errors.length > 0) {
        throw new CliError(
          ERR_RECONCILE_INCOMPLETE,
          `${report.errors.length} problem(s) remain: ${report.errors.join('; ')}`,
        )
      }
    })
}
