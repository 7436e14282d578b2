import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import type { Command } from 'commander'
import { rootNeeded, withApi } from '../backend.js'
import { globalOptions } from '../context.js'
import { invalidArgument } from '../errors.js'
import type { Output } from '../output.js'

/** The exit code of a program killed by a signal, as shells report it (128 + its number). */
function signalExit(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0)
}

/**
 * Runs `argv` (no shell) with inherited stdio; resolves with its exit code (a program that cannot
 * be run: 127 when not found, else 126, as shells and `docker exec` say, with one line on stderr).
 */
function runProgram(argv: string[], io: Output): Promise<number> {
  const [file, ...args] = argv as [string, ...string[]]
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: 'inherit' })
    const forward = (signal: NodeJS.Signals): void => void child.kill(signal)
    const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT']
    for (const s of signals) process.on(s, forward)
    const done = (): void => {
      for (const s of signals) process.off(s, forward)
    }
    child.once('error', (err: NodeJS.ErrnoException) => {
      done()
      io.err(`cnm: cannot run ${JSON.stringify(file)}: ${err.message} (${err.code ?? 'ERR_EXEC'})\n`)
      resolve(err.code === 'ENOENT' ? 127 : 126)
    })
    child.once('exit', (code, signal) => {
      done()
      resolve(signal ? signalExit(signal) : (code ?? 1))
    })
  })
}

/** `cnm exec SANDBOX -- CMD [ARGS…]`. */
export function registerExecCommand(program: Command, io: Output): void {
  program
    .command('exec')
    .description(
      "run a program inside a sandbox: its network namespace, with its resolv.conf and hosts (the network's DNS server) over /etc's, like ip netns exec; exits with the program's code",
    )
    .argument('<sandbox>', 'sandbox id, container id or key')
    .argument('<command...>', 'the program and its arguments (put -- before them)')
    .option('--no-resolver', "keep the host's /etc/resolv.conf and /etc/hosts")
    .action(async (ref: string, argv: string[], opts: { resolver: boolean }, cmd: Command) => {
      if (argv.length === 0 || argv[0] === '') throw invalidArgument('cnm exec needs a program to run')
      if (process.geteuid?.() !== 0) throw rootNeeded(globalOptions(cmd).host)
      const { sandbox, resolver } = await withApi(cmd, async (api) => {
        const sb = await api.inspectSandbox(ref)
        return { sandbox: sb, resolver: opts.resolver ? await api.sandboxResolver(sb.id) : undefined }
      })
      const { enterSandbox } = await import('../exec/enter-sandbox.js')
      await enterSandbox(sandbox.key, resolver?.files ?? {})
      process.exitCode = await runProgram(argv, io)
    })
}
