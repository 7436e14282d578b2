// The benchmark's upstream resolver (a child process): answers `forwarded.example` and
// `fwdN.example` with A records, NXDOMAIN for the rest. dns-packet, one UDP socket, and TCP.
//   node upstream.mjs ADDRESS PORT
import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import * as packet from 'dns-packet'

const [address = '127.0.0.1', port = '53'] = process.argv.slice(2)

function answer(msg) {
  const q = packet.decode(msg)
  const question = q.questions?.[0]
  const known = question && /^(forwarded|fwd\d+)\.example$/iu.test(question.name)
  return packet.encode({
    id: q.id,
    type: 'response',
    flags: packet.RECURSION_AVAILABLE | (q.flags & packet.RECURSION_DESIRED) | (known ? 0 : 3),
    questions: q.questions,
    answers: known && question.type === 'A' ? [{ type: 'A', name: question.name, ttl: 300, data: '192.0.2.80' }] : [],
  })
}

const udp = createSocket('udp4')
udp.on('message', (msg, r) => {
  try {
    udp.send(answer(msg), r.port, r.address)
  } catch {}
})
udp.bind(Number(port), address, () => {
  createServer((c) => {
    c.on('error', () => {})
    c.on('data', (d) => {
      try {
        const res = answer(d.subarray(2))
        const len = Buffer.alloc(2)
        len.writeUInt16BE(res.length)
        c.write(Buffer.concat([len, res]))
      } catch {}
    })
  }).listen(Number(port), address, () => process.stdout.write('ready\n'))
})
