import { isLoopback as isLoopbackAddress, tryParseAddress } from '@cnm/ip'
import { CliError } from './errors.js'
import type { ListenAddress } from './listen-address.js'
import { ERR_INSECURE_TCP } from './service/codes.js'

// Apart from serve.js (Fastify and the API), so that `cnm serve` checks its flags before it starts
// loading the stack, which then loads while the store is restored.

const isLoopback = (host: string): boolean => {
  const address = tryParseAddress(host)
  return address !== undefined && isLoopbackAddress(address)
}

/** Refuses a TCP listener without mutual TLS (or `insecureTcp` on loopback), before anything starts. */
export function checkTcpSecurity(listen: ListenAddress | undefined, tls: boolean, insecure: boolean): void {
  if (!listen) return
  const where = `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`
  if (tls && insecure) {
    throw new CliError(
      ERR_INSECURE_TCP,
      '--insecure-tcp and TLS (--tlscacert, --tlscert, --tlskey) exclude each other',
      {
        kind: 'invalid',
      },
    )
  }
  if (tls) return
  if (!insecure) {
    throw new CliError(
      ERR_INSECURE_TCP,
      `--listen ${where} needs mutual TLS (--tlscacert, --tlscert, --tlskey), or --insecure-tcp on a loopback address`,
      { kind: 'invalid' },
    )
  }
  if (!isLoopback(listen.host)) {
    throw new CliError(
      ERR_INSECURE_TCP,
      `--insecure-tcp binds only loopback (127.0.0.1, ::1), not ${listen.host}: use mutual TLS for another address`,
      { kind: 'invalid' },
    )
  }
}
