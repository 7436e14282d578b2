import { Command, Option } from 'commander'
import { registerCniCommands } from './commands/cni.js'
import { registerConnectCommands } from './commands/connect.js'
import { registerDemoCommand } from './commands/demo.js'
import { registerEndpointCommands } from './commands/endpoint.js'
import { registerEventsCommand } from './commands/events.js'
import { registerExecCommand } from './commands/exec.js'
import { registerInfoCommand } from './commands/info.js'
import { registerNetworkCommands } from './commands/network.js'
import { registerPortCommands } from './commands/port.js'
import { registerReconcileCommand } from './commands/reconcile.js'
import { registerSandboxCommands } from './commands/sandbox.js'
import { registerServeCommand } from './commands/serve.js'
import { DEFAULT_HOST, DEFAULT_SANDBOX_DIR, DEFAULT_STORE_PATH } from './defaults.js'
import { type Output, processOutput } from './output.js'
import { cliVersion } from './version.js'

/** Options of {@link createProgram}. */
export interface ProgramOptions {
  /** Where commands write (default: the process's stdout and stderr). */
  output?: Output
  /**
   * The arguments it will parse (`process.argv`): when they name a command, only that command is
   * registered (a few ms of every start-up); otherwise (help, a typo) all of them are.
   */
  argv?: readonly string[]
}

type Register = (program: Command, io: Output) => void

/** Each top-level command word and what registers it. */
const COMMANDS: Readonly<Record<string, Register>> = {
  network: registerNetworkCommands,
  sandbox: registerSandboxCommands,
  endpoint: registerEndpointCommands,
  connect: registerConnectCommands,
  disconnect: registerConnectCommands,
  port: registerPortCommands,
  reconcile: registerReconcileCommand,
  info: registerInfoCommand,
  events: registerEventsCommand,
  exec: registerExecCommand,
  serve: registerServeCommand,
  demo: registerDemoCommand,
  cni: registerCniCommands,
}

/** The global options that take a value (their value is not a command word). */
const VALUED = new Set(['-H', '--host', '--tlscacert', '--tlscert', '--tlskey', '--store', '--sandbox-dir'])

/** The command word of `argv` (node, script, …args), if any. */
export function commandWord(argv: readonly string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--') return argv[i + 1]
    if (!arg.startsWith('-')) return arg
    if (VALUED.has(arg)) i++
  }
  return undefined
}

/**
 * The `cnm` command. Parse with `parseAsync`; it never exits the process: every failure (usage
 * errors included) rejects, and `describeFailure` turns it into the line and exit code `cnm` uses.
 */
export function createProgram(options: ProgramOptions = {}): Command {
  const io = options.output ?? processOutput
  const program = new Command('cnm')
    .description('cnm: the Container Network Model for Node.js — bridges, veths, namespaces, NAT and published ports')
    .version(cliVersion(), '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .addOption(
      new Option(
        '-H, --host <address>',
        'the daemon: unix:///path.sock or tcp://HOST:PORT; with none listening on its socket, cnm works in process',
      )
        .env('CNM_HOST')
        .default(DEFAULT_HOST),
    )
    .addOption(new Option('--tlscacert <file>', "TLS (tcp:// daemons): the CA that signed the daemon's certificate"))
    .addOption(new Option('--tlscert <file>', "TLS (tcp:// daemons): this client's certificate"))
    .addOption(new Option('--tlskey <file>', "TLS (tcp:// daemons): this client's key"))
    .addOption(
      new Option('--store <path>', 'the store (SQLite); given, cnm works in process on it (no daemon)')
        .env('CNM_STORE')
        .default(DEFAULT_STORE_PATH),
    )
    .addOption(
      new Option('--sandbox-dir <dir>', 'where sandboxes are bound; given, cnm works in process (no daemon)')
        .env('CNM_SANDBOX_DIR')
        .default(DEFAULT_SANDBOX_DIR),
    )
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => undefined })
  // Subcommands made with .command() inherit the settings above (exit override, output, help).
  const word = options.argv ? commandWord(options.argv) : undefined
  const only = word !== undefined && Object.hasOwn(COMMANDS, word) ? COMMANDS[word] : undefined
  for (const register of only ? [only] : new Set(Object.values(COMMANDS))) register(program, io)
  return program
}
