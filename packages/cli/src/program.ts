import { readFileSync } from 'node:fs'
import { Command } from 'commander'

/** The package's own version, read from its package.json. */
export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

/**
 * The `cnm` command. Its verbs (network, sandbox, endpoint, connect, port, reconcile, serve, demo)
 * arrive with the packages they front; until then it offers help and its version.
 */
export function createProgram(): Command {
  const program = new Command('cnm')
    .description('cnm: the Container Network Model for Node.js — bridges, veths, namespaces, NAT and published ports')
    .version(cliVersion(), '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .argument('[command]', 'the command to run')
    .action((command: string | undefined) => {
      if (command === undefined) program.help()
      program.error(`cnm: unknown command '${command}' (ERR_UNKNOWN_COMMAND); see 'cnm --help'`, {
        code: 'ERR_UNKNOWN_COMMAND',
        exitCode: 2,
      })
    })
  return program
}
