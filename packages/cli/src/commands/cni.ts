import type { Command } from 'commander'
import { type Output, printJSON } from '../output.js'

/** `cnm cni install [--bin-dir /opt/cni/bin]`: puts the `cnm` CNI plugin where runtimes look for plugins. */
export function registerCniCommands(program: Command, io: Output): void {
  const cni = program.command('cni').description('the CNI plugin (a configuration of "type": "cnm")')
  cni
    .command('install')
    .description('install the `cnm` CNI executable (a native forwarder to the daemon, Node when none listens)')
    .option('--bin-dir <dir>', 'where the runtime looks for CNI plugins', '/opt/cni/bin')
    .option('--json', 'print what was installed as JSON')
    .action(async (opts: { binDir: string; json?: boolean }) => {
      // Loaded here: the package finds its built forwarder and entry beside its own files.
      const { installCni } = await import('@cnm/cni')
      const report = installCni({ binDir: opts.binDir })
      if (opts.json) printJSON(io, report)
      else
        io.out(
          `${report.plugin} (${report.native ? 'native forwarder' : 'Node'}), falling back to ${report.fallback}\n`,
        )
    })
}
