import type { Command } from 'commander'
import { globalOptions } from '../context.js'
import { CliError, ERR_DEMO_FAILED } from '../errors.js'
import { parseInteger } from '../network-options.js'
import type { Output } from '../output.js'

/** `cnm demo`. */
export function registerDemoCommand(program: Command, io: Output): void {
  program
    .command('demo')
    .description(
      'a bridge network, two sandboxes with HTTP servers, a published port, real traffic, then cleanup (in a throwaway namespace)',
    )
    .option('--in-place', 'run in the current network namespace, on --store and --sandbox-dir')
    .option('--port <port>', 'the host port to publish on (default: any free one)')
    .action(async (opts: { inPlace?: boolean; port?: string }, cmd: Command) => {
      const hostPort = opts.port === undefined ? undefined : parseInteger(opts.port, '--port', 1, 65535)
      const g = globalOptions(cmd)
      const { runDemo } = await import('../demo/run.js')
      const result = await runDemo({
        inPlace: opts.inPlace === true,
        store: g.store,
        sandboxDir: g.sandboxDir,
        output: io,
        ...(hostPort ? { hostPort } : {}),
      })
      if (!result.ok) {
        const failed = result.checks.filter((c) => !c.ok).length
        throw new CliError(
          ERR_DEMO_FAILED,
          `${failed} of ${result.checks.length} checks failed${result.cleanupErrors.length ? `, ${result.cleanupErrors.length} cleanup steps failed` : ''}`,
        )
      }
    })
}
