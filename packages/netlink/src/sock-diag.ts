import type * as NetlinkPkg from 'netlink'
import { ERR_NETLINK, kernelError, NetlinkError } from './errors.js'
import { bytesToIp } from './ip-codec.js'
import { nl } from './netlink-lib.js'

const NETLINK_SOCK_DIAG = 4
const SOCK_DIAG_BY_FAMILY = 20
const NLM_F_DUMP = 0x300
const IPPROTO = { tcp: 6, udp: 17 } as const
const TCP_LISTEN = 10
const ALL_STATES = 0xffffffff
const INET_DIAG_REQ_V2_LEN = 56
const NLMSG_ERROR = 2

/** A socket bound to a local port, as the kernel reports it. */
export interface BoundPort {
  proto: 'tcp' | 'udp'
  family: 4 | 6
  /** Local address (`0.0.0.0` / `::` for a wildcard bind). */
  ip: string
  port: number
  /** The socket's inode: a process holding it has a descriptor linking to `socket:[inode]`. */
  inode: number
  /** The uid that owns the socket (its creator's). */
  uid: number
}

function request(family: number, proto: number, states: number): Buffer {
  const b = Buffer.alloc(INET_DIAG_REQ_V2_LEN)
  b.writeUInt8(family, 0)
  b.writeUInt8(proto, 1)
  b.writeUInt32LE(states >>> 0, 4)
  return b
}

function parse(proto: 'tcp' | 'udp', msg: Buffer): BoundPort {
  const family = msg.readUInt8(0) === 10 ? 6 : 4
  const port = msg.readUInt16BE(4)
  const ip = bytesToIp(msg.subarray(8, family === 4 ? 12 : 24))
  // inet_diag_msg: family, state, timer, retrans, the 48-byte id, expires, rqueue, wqueue, uid, inode.
  return { proto, family, ip, port, uid: msg.readUInt32LE(64), inode: msg.readUInt32LE(68) }
}

/**
 * A NETLINK_SOCK_DIAG socket (inet_diag): lists the sockets bound to local ports. Listening TCP
 * sockets come from the listening hash alone (the kernel filters by state), so asking is cheap
 * however many connections the machine has — unlike reading /proc/net/tcp.
 */
export class SockDiagSocket {
  private readonly sock: NetlinkPkg.NetlinkSocket
  private queue: Promise<unknown> = Promise.resolve()

  /** Must be called with the calling thread in the target namespace (synchronously). */
  constructor(private readonly timeoutMs: number) {
    this.sock = nl.createNetlink(NETLINK_SOCK_DIAG, { localPort: 0 } as Parameters<typeof nl.createNetlink>[1]) // the kernel picks the port id
  }

  /** Listening TCP sockets, or bound UDP sockets, of both families. */
  boundPorts(proto: 'tcp' | 'udp'): Promise<BoundPort[]> {
    const run = async (): Promise<BoundPort[]> => {
      const states = proto === 'tcp' ? 1 << TCP_LISTEN : ALL_STATES
      const out: BoundPort[] = []
      for (const family of [2, 10]) {
        const what = `list ${proto}${family === 2 ? '4' : '6'} sockets`
        let msgs: NetlinkPkg.NetlinkMessage[]
        try {
          ;[msgs] = await this.sock.request(SOCK_DIAG_BY_FAMILY, [request(family, IPPROTO[proto], states)], {
            flags: NLM_F_DUMP,
            timeout: this.timeoutMs,
            checkError: false,
          })
        } catch (cause) {
          throw new NetlinkError(ERR_NETLINK, `${what}: ${(cause as Error).message}`, { cause })
        }
        for (const m of msgs) {
          if (m.type === NLMSG_ERROR) {
            const errno = Math.abs(nl.parseError(Buffer.from(m.data), m.flags).errno)
            if (errno !== 0) throw kernelError(errno, what)
            continue
          }
          if (m.type === SOCK_DIAG_BY_FAMILY) out.push(parse(proto, Buffer.from(m.data)))
        }
      }
      return out
    }
    const p = this.queue.then(run, run)
    this.queue = p.catch(() => undefined)
    return p
  }

  close(): void {
    this.sock.close()
  }
}
