import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { run } from '@cnm/netlink/testing'
import { PY_CHECKSUM } from './raw-syn.js'
import { readyLines } from './spoof.js'

/**
 * A raw IP sender (python3, `IPPROTO_RAW`: the packet is sent as built, no scapy), as a container
 * with CAP_NET_RAW can send one: any source address (a broadcast, a multicast, `0.0.0.0`, `::`).
 */
const RAW_SENDER = `
import json, socket, struct, sys
${PY_CHECKSUM}
for p in json.loads(sys.argv[1]):
    body = p['text'].encode()
    dev = p.get('dev')
    if ':' not in p['dst']:
        src, dst = socket.inet_aton(p['src']), socket.inet_aton(p['dst'])
        if p['proto'] == 'icmp':
            h = struct.pack('!BBHHH', 8, 0, 0, 0x4242, 1) + body
            l4, proto = h[:2] + struct.pack('!H', csum(h)) + h[4:], 1
        else:
            l4, proto = struct.pack('!HHHH', p['sport'], p['dport'], 8 + len(body), 0) + body, 17
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0, src, dst)
        if p['src'] == '0.0.0.0':
            # IPPROTO_RAW fills in a zero source: a broadcast frame on 'dev' instead, as a DHCP client's.
            ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind((dev, 0x0800))
            s.send(b'\\xff' * 6 + s.getsockname()[4] + b'\\x08\\x00' + ip + l4)
            s.close()
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        if dev:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
        s.sendto(ip + l4, (p['dst'], 0))
    else:
        src, dst = socket.inet_pton(socket.AF_INET6, p['src']), socket.inet_pton(socket.AF_INET6, p['dst'])
        if p['proto'] == 'icmp':
            # A neighbour solicitation for 'target' (what a DAD probe from :: is), else an echo request.
            target = p.get('target')
            if target:
                l4, proto = struct.pack('!BBHI', 135, 0, 0, 0) + socket.inet_pton(socket.AF_INET6, target), 58
            else:
                l4, proto = struct.pack('!BBHHH', 128, 0, 0, 0x4242, 1) + body, 58
        else:
            l4, proto = struct.pack('!HHHH', p['sport'], p['dport'], 8 + len(body), 0) + body, 17
        c = csum(src + dst + struct.pack('!IxxxB', len(l4), proto) + l4)
        at = 2 if proto == 58 else 6
        l4 = l4[:at] + struct.pack('!H', c) + l4[at + 2:]
        ip = struct.pack('!IHBB', 6 << 28, len(l4), proto, 255) + src + dst
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
        s.sendto(ip + l4, (p['dst'], 0, 0, socket.if_nametoindex(dev) if dev else 0))
    s.close()
`

/**
 * A raw packet: an ICMP echo request (ICMPv6: a neighbour solicitation when `target` is set) or a
 * UDP datagram. From `0.0.0.0` it goes as an Ethernet broadcast on `dev` (as a DHCP client's).
 */
export interface RawPacket {
  proto: 'icmp' | 'udp'
  src: string
  dst: string
  text: string
  sport?: number
  dport?: number
  /** Sent out of this link (a broadcast or link-scoped destination). */
  dev?: string
  target?: string
}

/** Sends `packets` from inside the namespace at `netns`, in order, built byte by byte. */
export function sendRaw(netns: string, packets: readonly RawPacket[]): void {
  run('python3', ['-c', RAW_SENDER, JSON.stringify(packets)], { netns })
}

/**
 * A VXLAN sender over an ordinary UDP socket (no capability needed): each datagram to
 * `dst`:4789 carries the VNI and an inner Ethernet frame to `innerMac` holding an IPv4 UDP
 * datagram `innerSrc` → `innerDst`:`dport` with `text`.
 */
const VXLAN_SENDER = `
import json, socket, struct, sys

def csum(d):
    s = sum(struct.unpack('!%dH' % (len(d) // 2), d))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

for dst, port, vni, mac, src4, dst4, dport, text in json.loads(sys.argv[1]):
    udp = struct.pack('!HHHH', 4444, dport, 8 + len(text), 0) + text.encode()
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, socket.inet_aton(src4), socket.inet_aton(dst4))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    frame = bytes.fromhex(mac.replace(':', '')) + bytes.fromhex('02deadbeef01') + b'\\x08\\x00' + ip + udp
    s = socket.socket(socket.AF_INET6 if ':' in dst else socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(struct.pack('!II', 0x08000000, vni << 8) + frame, (dst, port))
    s.close()
`

/** One VXLAN datagram: outer destination and port, VNI, inner MAC, source, destination, port and text. */
export type VxlanDatagram = [
  dst: string,
  port: number,
  vni: number,
  innerMac: string,
  innerSrc: string,
  innerDst: string,
  dport: number,
  text: string,
]

/** Sends VXLAN datagrams from inside the namespace at `netns`, as any unprivileged process can. */
export function sendVxlan(netns: string, datagrams: readonly VxlanDatagram[]): void {
  run('python3', ['-c', VXLAN_SENDER, JSON.stringify(datagrams)], { netns })
}

/** Records every IPv4 ICMP message the namespace receives (raw socket) until its stdin closes. */
const ICMP_LISTENER = `
import json, select, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
print('ready', flush=True)
while True:
    r = select.select([s, sys.stdin], [], [])[0]
    if s in r:
        d = s.recv(65535)
        ihl = (d[0] & 15) * 4
        print(json.dumps({'type': d[ihl], 'from': socket.inet_ntoa(d[12:16]), 'to': socket.inet_ntoa(d[16:20]),
                          'text': d[ihl + 8:].decode(errors='replace')}), flush=True)
    if sys.stdin in r and not sys.stdin.readline():
        break
`

/** An ICMP message an {@link IcmpListener} saw. */
export interface IcmpSeen {
  type: number
  from: string
  to: string
  text: string
}

/** {@link ICMP_LISTENER} in a namespace. */
export class IcmpListener {
  readonly #child: ChildProcessWithoutNullStreams
  readonly seen: IcmpSeen[] = []

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child
  }

  /** Starts it in the namespace at `netns`; resolves once the socket is open. */
  static start(netns: string): Promise<IcmpListener> {
    const child = spawn('nsenter', [`--net=${netns}`, '--', 'python3', '-c', ICMP_LISTENER], { stdio: 'pipe' })
    const l = new IcmpListener(child)
    return readyLines<IcmpSeen>(child, 'ICMP listener', (m) => l.seen.push(m)).then(() => l)
  }

  /** Waits (polling, up to `timeoutMs`) until a message whose text contains `text` has arrived. */
  async waitFor(text: string, timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (!this.seen.some((m) => m.text.includes(text))) {
      if (Date.now() > deadline) return false
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return true
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    this.#child.stdin.end()
    await exited
  }
}
