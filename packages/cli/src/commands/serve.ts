import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { rootNeeded } from '../backend.js'
import { globalOptions } from '../context.js'
import { DEFAULT_SOCKET_PATH } from '../defaults.js'
import { invalidArgument } from '../errors.js'
import { parseListenAddress } from '../listen-address.js'
import type { Output } from '../output.js'
import type { ServeTls } from '../serve.js'
import { prepareSocketPath } from '../unix-socket.js'

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

interface ServeFlags {
  socket: string
  listen?: string
  insecureTcp?: boolean
  logLevel: string
}

/** The TLS file options (global: a client's certificates, or with `serve` the daemon's). */
interface TlsFlags {
  tlscacert?: string
  tlscert?: string
  tlskey?: string
}

/** Resolves on the first SIGINT or SIGTERM; SIGHUP is logged (nothing can be reloaded). */
function stopSignal(onHangup: () => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
      process.off('SIGHUP', onHangup)
      resolve(signal)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
    process.on('SIGHUP', onHangup)
  })
}

/** The TLS files, read; all three or none. */
function tlsFiles(flags: TlsFlags): ServeTls | undefined {
  const given = [flags.tlscacert, flags.tlscert, flags.tlskey]
  if (given.every((f) => f === undefined)) return undefined
  if (given.some((f) => f === undefined)) {
    throw invalidArgument('mutual TLS needs all of --tlscacert, --tlscert and --tlskey')
  }
  const read = (file: string, flag: string): Buffer => {
    try {
      return readFileSync(file)
    } catch (err) {
      throw invalidArgument(`${flag} ${file}: ${(err as Error).message}`)
    }
  }
  return {
    ca: read(flags.tlscacert as string, '--tlscacert'),
    cert: read(flags.tlscert as string, '--tlscert'),
    key: read(flags.tlskey as string, '--tlskey'),
  }
}

/** `cnm serve`: the daemon. */
export function registerServeCommand(program: Command, io: Output): void {
  program
    .command('serve')
    .description('the cnm daemon: owns the store, holds published ports, serves the REST API until SIGINT or SIGTERM')
    .option(
      '--socket <path>',
      "unix socket to listen on (mode 0660, root's, group cnm when it exists)",
      DEFAULT_SOCKET_PATH,
    )
    .option(
      '--listen <ip:port>',
      "also listen on TCP, with mutual TLS (the global --tlscacert: the CA client certificates must chain to; --tlscert, --tlskey: the daemon's own), or --insecure-tcp on loopback; the port is reserved so no published port can take it (0: any)",
    )
    .option('--insecure-tcp', 'TCP without TLS, loopback addresses only (logged as a warning)')
    .option('--log-level <level>', `log level: ${LEVELS.join(', ')} (logs go to stderr)`, 'info')
    .action(async (flags: ServeFlags, cmd: Command) => {
      const listen = flags.listen === undefined ? undefined : parseListenAddress(flags.listen)
      if (!LEVELS.includes(flags.logLevel)) {
        throw invalidArgument(`--log-level ${JSON.stringify(flags.logLevel)} must be one of ${LEVELS.join(', ')}`)
      }
      const g = globalOptions(cmd)
      const tls = tlsFiles(g)
      const { checkTcpSecurity, serveApi } = await import('../serve.js')
      checkTcpSecurity(listen, tls !== undefined, flags.insecureTcp === true)
      if (process.geteuid?.() !== 0) throw rootNeeded(`unix://${flags.socket}`)
      await prepareSocketPath(flags.socket) // a socket in use is refused before the store is opened
      const started = performance.now()
      const { createController } = await import('@cnm/controller')
      const { heldPortCount } = await import('@cnm/portmapper')
      const controller = await createController({ storePath: g.store, sandboxDir: g.sandboxDir })
      try {
        const server = await serveApi({
          controller,
          socketPath: flags.socket,
          logger: { level: flags.logLevel, stream: process.stderr },
          info: { mode: 'daemon', store: g.store, sandboxDir: g.sandboxDir, heldPorts: heldPortCount },
          ...(listen ? { listen } : {}),
          ...(tls ? { tls } : {}),
          ...(flags.insecureTcp ? { insecureTcp: true } : {}),
        })
        const log = server.server.log
        const restored = controller.lastReconcile
        log.info(
          {
            store: g.store,
            networks: controller.networks().length,
            sandboxes: controller.sandboxes().length,
            heldPorts: heldPortCount(),
            reconcile: restored,
            startupMs: Math.round(performance.now() - started),
          },
          'cnm daemon started',
        )
        const stopped = stopSignal(() =>
          log.info('SIGHUP: nothing to reload (settings are read at start: restart the daemon to change them)'),
        )
        for (const where of server.listeners()) io.out(`listening on ${where}\n`)
        const signal = await stopped
        log.info(`${signal}: stopping (published ports are released; the kernel keeps their rules; state is kept)`)
        await server.close()
        io.out(`stopped (${signal})\n`)
      } finally {
        await controller.close()
      }
    })
}
