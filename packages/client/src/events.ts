import type { IncomingMessage } from 'node:http'
import { CnmClientError, ERR_BAD_RESPONSE } from './errors.js'
import type { Event } from './schema/objects.js'

/**
 * The events of an NDJSON answer, one per line, until the daemon ends the stream or the caller
 * stops iterating (which closes the connection).
 */
export async function* readEvents(res: IncomingMessage): AsyncGenerator<Event, void, undefined> {
  let pending = ''
  try {
    for await (const chunk of res) {
      pending += (chunk as Buffer).toString('utf8')
      let nl = pending.indexOf('\n')
      while (nl >= 0) {
        const line = pending.slice(0, nl).trim()
        pending = pending.slice(nl + 1)
        if (line) yield parseLine(line)
        nl = pending.indexOf('\n')
      }
    }
  } finally {
    res.destroy()
  }
  if (pending.trim()) yield parseLine(pending.trim())
}

function parseLine(line: string): Event {
  try {
    return JSON.parse(line) as Event
  } catch (err) {
    throw new CnmClientError(ERR_BAD_RESPONSE, 'internal', `an event that is not JSON: ${line.slice(0, 200)}`, {
      cause: err,
    })
  }
}
