import { ipJson, run } from '@cnm/netlink/testing'

/**
 * A raw TCP SYN sender (python3, an AF_PACKET socket: no scapy), as a container with CAP_NET_RAW
 * can send one: an Ethernet frame to the gateway's MAC carrying an IPv4 TCP SYN to any destination
 * (127.0.0.1 included, which no socket of the container could reach through its gateway). It then
 * watches the same link for the answer to its source port and prints `syn-ack`, `rst` or `none`.
 */
const SENDER = `
import random, select, socket, struct, sys, time
ifname, gw_mac, src, dst, dport, timeout = sys.argv[1:7]
dport, timeout = int(dport), float(timeout)

def csum(data):
    if len(data) % 2:
        data += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((ifname, 0x0800))
src_mac = s.getsockname()[4]
saddr, daddr = socket.inet_aton(src), socket.inet_aton(dst)
sport, seq = random.randint(40000, 60000), random.randint(0, 2**32 - 1)
tcp = struct.pack('!HHIIBBHHH', sport, dport, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
pseudo = saddr + daddr + struct.pack('!BBH', 0, 6, len(tcp))
tcp = tcp[:16] + struct.pack('!H', csum(pseudo + tcp)) + tcp[18:]
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), random.randint(0, 65535), 0x4000, 64, 6, 0, saddr, daddr)
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
s.send(bytes.fromhex(gw_mac.replace(':', '')) + src_mac + b'\\x08\\x00' + ip + tcp)

deadline = time.time() + timeout
while True:
    left = deadline - time.time()
    if left <= 0 or not select.select([s], [], [], left)[0]:
        print('none')
        break
    frame, addr = s.recvfrom(65535)
    if addr[2] == socket.PACKET_OUTGOING or len(frame) < 34:
        continue
    iph = frame[14:]
    ihl = (iph[0] & 0x0f) * 4
    if iph[9] != 6 or len(iph) < ihl + 14:
        continue
    th_sport, th_dport = struct.unpack('!HH', iph[ihl:ihl + 4])
    flags = iph[ihl + 13]
    if th_dport != sport:
        continue
    if flags & 0x12 == 0x12:
        print('syn-ack', socket.inet_ntoa(iph[12:16]), th_sport)
        break
    if flags & 0x04:
        print('rst', socket.inet_ntoa(iph[12:16]), th_sport)
        break
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
 * Sends one TCP SYN from `from.ip4` on `eth0` inside `from.netns` as a raw frame to `gatewayMac`,
 * addressed to `dst`:`port`, and reports what came back within `timeoutMs`.
 */
export function rawSyn(
  from: { netns: string; ip4: string },
  gatewayMac: string,
  dst: string,
  port: number,
  timeoutMs = 700,
): RawSynAnswer {
  const args = ['-c', SENDER, 'eth0', gatewayMac, from.ip4, dst, String(port), String(timeoutMs / 1000)]
  const { stdout } = run('python3', args, { netns: from.netns, timeoutMs: timeoutMs + 5000 })
  const answer = stdout.trim().split(' ')[0]
  if (answer !== 'syn-ack' && answer !== 'rst' && answer !== 'none') throw new Error(`raw sender: ${stdout}`)
  return answer
}
