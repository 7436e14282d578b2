import type { Command } from 'commander'
import { withApi } from '../backend.js'
import { CliError, ERR_RECONCILE_INCOMPLETE } from '../errors.js'
import { type Output, printJSON } from '../output.js'
import { formatReport } from '../reconcile-report.js'

export { formatReport, mergeReports } from '../reconcile-report.js'

/** `cnm reconcile`. */
export function registerReconcileCommand(program: Command, io: Output): void {
  program
    .command('reconcile')
    .description('compare the store with the kernel and repair both ways (exits 1 if errors remain)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const report = await withApi(cmd, (api) => api.reconcile())
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
