import { bigIntToIPv6, numberToIPv4 } from '@cnm/ip'
import type { NameTable } from './name-table.js'
import type { QueryHandler } from './query-handler.js'
import { openUdpLoop, type UdpLoop } from './udp-loop.js'

/** The handler of a server, set once the server is up (queries before that are dropped). */
export interface HandlerRef {
  handler?: QueryHandler
}

/**
 * Binds `address:port` for UDP on the native loop (undefined when the addon is not built): a query
 * whose bytes were answered locally before gets the same answer with its own id, on the loop's
 * thread; any other goes to the handler here, and a local answer is stored for the next one.
 */
export function bindNativeUdp(
  address: string,
  family: 4 | 6,
  port: number,
  ref: HandlerRef,
  clients?: Buffer,
): UdpLoop | undefined {
  const onMiss = (msg: Buffer, client: string, clientPort: number, key: Buffer | null, generation: number): void => {
    const handler = ref.handler
    if (!handler || !loop) return
    const res = handler.handle(msg, 'udp', client)
    if (res === undefined) return
    if (Buffer.isBuffer(res)) {
      loop.send(res, client, clientPort)
      if (key && handler.lastAnswerLocal) loop.store(generation, key, res)
    } else {
      res.then((r) => r && loop.send(r, client, clientPort)).catch(() => {})
    }
  }
  const loop: UdpLoop | undefined = openUdpLoop(address, family, port, onMiss, clients)
  return loop
}

/** A loop with the family of its address (the length of a scoped key's client prefix). */
export interface FamilyLoop {
  loop: UdpLoop
  family: 4 | 6
}

/** The client address a scoped key starts with. */
function clientOf(key: Buffer, family: 4 | 6): string {
  if (family === 4) return numberToIPv4(key.readUInt32BE(0))
  return bigIntToIPv6(BigInt(`0x${key.subarray(0, 16).toString('hex')}`))
}

/**
 * Empties the loops' stored answers whenever the names change (before `set`/`delete` return), then
 * answers the queries asked for most again at once, from the new names, and stores those answers:
 * a change does not send every query in flight to the event loop.
 */
export function clearOnChange(names: NameTable, loops: FamilyLoop[], handler: QueryHandler): () => void {
  let wasScoped = names.scoped
  const clear = (): void => {
    const scoped = names.scoped
    for (const { loop, family } of loops) {
      const { generation, keys } = loop.clear(scoped)
      // Scoped keys need the client; unscoped ones do not tell it: rebuilt only when that holds.
      if (scoped && !wasScoped) continue
      const prefix = wasScoped ? (family === 4 ? 4 : 16) : 0
      for (const key of keys) {
        const client = prefix > 0 ? clientOf(key, family) : undefined
        const query = Buffer.concat([Buffer.alloc(2), key.subarray(prefix)])
        const answer = handler.precompute(query, client)
        if (answer) loop.store(generation, scoped ? key : key.subarray(prefix), answer)
      }
    }
    wasScoped = scoped
  }
  clear()
  return names.onChange(clear)
}
