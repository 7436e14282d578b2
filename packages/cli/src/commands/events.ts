import type { Event } from '@cnm/client'
import type { Command } from 'commander'
import { openClient } from '../backend.js'
import { globalOptions } from '../context.js'
import { CliError, invalidArgument } from '../errors.js'
import type { Output } from '../output.js'
import { formatPortBinding } from '../publish-spec.js'
import { ERR_DAEMON_UNREACHABLE } from '../service/codes.js'

const TYPES = ['network', 'endpoint', 'sandbox'] as const

/** One event as a line: time, type, action, name, then what it concerns. */
export function formatEvent(e: Event): string {
  const extra = [
    e.network === undefined ? '' : `network=${e.network}`,
    e.sandbox === undefined ? '' : `sandbox=${e.sandbox}`,
    e.port === undefined ? '' : formatPortBinding(e.port),
    `id=${e.id.slice(0, 12)}`,
  ].filter(Boolean)
  return `${e.time} ${e.type} ${e.action} ${e.name} ${extra.join(' ')}\n`
}

/** Resolves on the first SIGINT or SIGTERM. */
function interrupted(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController()
  const stop = (): void => ac.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    },
  }
}

/** `cnm events`. */
export function registerEventsCommand(program: Command, io: Output): void {
  program
    .command('events')
    .description('print changes as the daemon makes them (until SIGINT/SIGTERM, or the daemon stops)')
    .option('--type <type>', `only events of this type (${TYPES.join(', ')})`)
    .option('--json', 'print each event as a JSON line')
    .action(async (opts: { type?: string; json?: boolean }, cmd: Command) => {
      const type = opts.type as Event['type'] | undefined
      if (type !== undefined && !TYPES.includes(type)) {
        throw invalidArgument(`--type ${JSON.stringify(opts.type)} must be one of ${TYPES.join(', ')}`)
      }
      const client = await openClient(globalOptions(cmd))
      const stop = interrupted()
      try {
        for await (const e of client.events({ ...(type ? { type } : {}), signal: stop.signal })) {
          io.out(opts.json ? `${JSON.stringify(e)}\n` : formatEvent(e))
        }
      } catch (err) {
        if ((err as { code?: unknown }).code === ERR_DAEMON_UNREACHABLE) {
          throw new CliError(ERR_DAEMON_UNREACHABLE, `cnm events needs the daemon: ${(err as Error).message}`, {
            kind: 'unavailable',
          })
        }
        throw err
      } finally {
        stop.dispose()
        client.close()
      }
    })
}
