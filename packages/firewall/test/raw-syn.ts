import { ipJson, run } from '@cnm/netlink/testing'

/** The Internet checksum (RFC 1071), as Python for the raw senders: `csum(bytes) -> int`. */
export const PY_CHECKSUM = `
def csum(d):
    if len(d) % 2:
        d += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(d) // 2), d))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
`

/**
 * A raw TCP SYN sender (python3, an AF_PACKET socket: no scapy), as a container with CAP_NET_RAW
 * can send one: an Ethernet frame to the gateway's MAC carrying an IPv4 TCP SYN to any destination
 * (127.0.0.1 included, which no socket of the container could reach through its gateway). It sends
 * one SYN per target, each from its own source port, then watches the same link for the answers and
 * prints, as a JSON list, `syn-ack`, `rst` or `none` per target.
 */
const SENDER = `
import json, random, select, socket, struct, sys, time
ifname, gw_mac, src, targets, timeout = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), float(sys.argv[5])
${PY_CHECKSUM}
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((ifname, 0x0800))
src_mac = s.getsockname()[4]
saddr = socket.inet_aton(src)
first = random.randint(20000, 60000 - len(targets))
answers = ['none'] * len(targets)
for i, (dst, dport) in enumerate(targets):
    daddr = socket.inet_aton(dst)
    tcp = struct.pack('!HHIIBBHHH', first + i, dport, random.randint(0, 2**32 - 1), 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = saddr + daddr + struct.pack('!BBH', 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), random.randint(0, 65535), 0x4000, 64, 6, 0, saddr, daddr)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    s.send(bytes.fromhex(gw_mac.replace(':', '')) + src_mac + b'\\x08\\x00' + ip + tcp)

deadline = time.time() + timeout
while 'none' in answers:
    left = deadline - time.time()
    if left <= 0 or not select.select([s], [], [], left)[0]:
        break
    frame, addr = s.recvfrom(65535)
    if addr[2] == socket.PACKET_OUTGOING or len(frame) < 34:
        continue
    iph = frame[14:]
    ihl = (iph[0] & 0x0f) * 4
    if iph[9] != 6 or len(iph) < ihl + 14:
        continue
    i = struct.unpack('!H', iph[ihl + 2:ihl + 4])[0] - first
    flags = iph[ihl + 13]
    if 0 <= i < len(targets) and answers[i] == 'none':
        answers[i] = 'syn-ack' if flags & 0x12 == 0x12 else 'rst' if flags & 0x04 else 'none'
print(json.dumps(answers))
`

/** What answered a raw SYN: a SYN-ACK (something accepted it), a RST, or nothing. */
export type RawSynAnswer = 'syn-ack' | 'rst' | 'none'

/** The MAC address of a link (`ip -j link show`), in the caller's namespace or `netns`. */
export function macOf(link: string, netns?: string): string {
  const [info] = ipJson<{ address: string }[]>(['link', 'show', link], netns ? { netns } : {})
  if (!info) throw new Error(`no link ${link}`)
  return info.address
}

/**
 * Sends one TCP SYN per target (`[address, port]`, each from its own source port) from `from.ip4`
 * on `eth0` inside `from.netns`, as raw frames to `gatewayMac`, and reports what answered each
 * within `timeoutMs` (all in one run, so controls and probes share the moment and the sender).
 */
export function rawSyns(
  from: { netns: string; ip4: string },
  gatewayMac: string,
  targets: [string, number][],
  timeoutMs = 800,
): RawSynAnswer[] {
  const args = ['-c', SENDER, 'eth0', gatewayMac, from.ip4, JSON.stringify(targets), String(timeoutMs / 1000)]
  const { stdout } = run('python3', args, { netns: from.netns, timeoutMs: timeoutMs + 10_000 })
  const answers = JSON.parse(stdout) as RawSynAnswer[]
  if (answers.length !== targets.length) throw new Error(`raw sender: ${stdout}`)
  return answers
}
