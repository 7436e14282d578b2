import type { Command } from 'commander'
import { globalOptions } from '../context.js'
import { DEFAULT_SOCKET_PATH } from '../defaults.js'
import { parseListenAddress } from '../listen-address.js'
import type { Output } from '../output.js'
import { prepareSocketPath } from '../unix-socket.js'

/** Resolves on the first SIGINT or SIGTERM. */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
      resolve(signal)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}

/** `cnm serve`. */
export function registerServeCommand(program: Command, io: Output): void {
  program
    .command('serve')
    .description('serve the REST API (see the README) until SIGINT or SIGTERM')
    .option('--socket <path>', 'unix socket to listen on (mode 0660, root-owned)', DEFAULT_SOCKET_PATH)
    .option('--listen <ip:port>', 'also listen on TCP; the port is reserved so no published port can take it (0: any)')
    .action(async (opts: { socket: string; listen?: string }, cmd: Command) => {
      const listen = opts.listen === undefined ? undefined : parseListenAddress(opts.listen)
      const { serveApi } = await import('../serve.js')
      await prepareSocketPath(opts.socket) // a socket in use is refused before the store is opened
      const g = globalOptions(cmd)
      const { createController } = await import('@cnm/controller')
      const controller = await createController({ storePath: g.store, sandboxDir: g.sandboxDir })
      try {
        const stopped = stopSignal()
        const server = await serveApi({ controller, socketPath: opts.socket, ...(listen ? { listen } : {}) })
        io.out(`listening on unix:${server.socketPath}\n`)
        if (server.tcp) {
          const host = server.tcp.host.includes(':') ? `[${server.tcp.host}]` : server.tcp.host
          io.out(`listening on http://${host}:${server.tcp.port}\n`)
        }
        const signal = await stopped
        await server.close()
        io.out(`stopped (${signal})\n`)
      } finally {
        await controller.close()
      }
    })
}
