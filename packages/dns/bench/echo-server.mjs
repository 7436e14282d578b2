// The floor of any DNS server on Node's dgram (one event loop): a UDP server that sends every
// datagram straight back (dnsperf counts it as an answer: same id and question) and does nothing else.
//   node echo-server.mjs ADDRESS
import { createSocket } from 'node:dgram'

const [address] = process.argv.slice(2)
const sock = createSocket({ type: 'udp4', lookup: (a, _o, cb) => cb(null, a, 4) })
sock.on('message', (msg, r) => {
  sock.send(msg, r.port, r.address)
})
sock.bind(53, address, () => process.stdout.write('ready\n'))
