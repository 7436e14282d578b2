import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { type ConntrackEntry, type ConntrackMatch, deleteNetns, type Handle, openHandle } from '@cnm/netlink'
import { describeKernel, pings, requireProgram, uniqueName, useHostNetns } from '@cnm/netlink/testing'
import { newSandbox, type Sandbox } from '@cnm/sandbox'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { type BridgeDriver, createBridgeDriver } from './driver.js'
import { createUplink } from './uplink.test-util.js'

/**
 * NAT port shadowing through a masquerade entry made before the port was published (CVE-2021-3773
 * class), with real packets. Container B sends from source port P to a peer X outside; masquerade
 * keeps P, so conntrack holds the reply tuple `X:dport -> host:P`. P is not published yet (say A's
 * container is being replaced). Then P is published to container A: the firewall now remaps new
 * flows from P to a random port, but B's entry, kept alive by B's traffic, would go on taking X's
 * datagrams to host:P. The publish flushes it (its reply destination port is the new host port).
 *
 * The negative control publishes through the same driver with the flush's reply-port matches taken
 * out (the host handle the driver opens is wrapped: `control.disarmed`), and B gets X's datagram.
 */

const control = vi.hoisted(() => ({ disarmed: false, flushes: [] as ConntrackMatch[][] }))

vi.mock('@cnm/netlink', async (importOriginal) => {
  const netlink = await importOriginal<typeof import('@cnm/netlink')>()
  return {
    ...netlink,
    openHandle: async (...args: Parameters<typeof netlink.openHandle>): Promise<Handle> => {
      const h = await netlink.openHandle(...args)
      return {
        ...h,
        flushConntrack: (matches: ConntrackMatch | readonly ConntrackMatch[]) => {
          const list = (Array.isArray(matches) ? matches : [matches]) as ConntrackMatch[]
          control.flushes.push(list)
          return h.flushConntrack(control.disarmed ? list.filter((m) => m.replyPort === undefined) : list)
        },
      }
    },
  }
})

const id = (): string => randomBytes(32).toString('hex')

/**
 * A UDP peer (IPv4): binds `port`, prints every datagram it gets as JSON (`from`, `port`, `text`);
 * with `dst dport text`, sends that every 100 ms (one flow, kept alive); a line `dst dport text` on
 * its standard input sends one datagram from the same socket. Exits when its input closes.
 */
const UDP_PEER = `
import json, select, socket, sys, time
port, keep = int(sys.argv[1]), sys.argv[2:]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', port))
print('ready', flush=True)
due = time.monotonic()
while True:
    if keep and time.monotonic() >= due:
        s.sendto(keep[2].encode(), (keep[0], int(keep[1])))
        due = time.monotonic() + 0.1
    wait = max(0, due - time.monotonic()) if keep else None
    for r in select.select([s, sys.stdin], [], [], wait)[0]:
        if r is s:
            data, addr = s.recvfrom(65535)
            print(json.dumps({'from': addr[0], 'port': addr[1], 'text': data.decode(errors='replace')}), flush=True)
        else:
            line = sys.stdin.readline()
            if not line:
                sys.exit(0)
            dst, dport, text = line.split()
            s.sendto(text.encode(), (dst, int(dport)))
`

/** A TCP server that holds every connection it accepts and prints its peer; exits when its input closes. */
const TCP_SERVER = `
import json, select, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1])))
s.listen(16)
print('ready', flush=True)
held = []
while True:
    for r in select.select([s, sys.stdin], [], [])[0]:
        if r is s:
            c, addr = s.accept()
            held.append(c)
            print(json.dumps({'from': addr[0], 'port': addr[1], 'text': 'connected'}), flush=True)
        elif not sys.stdin.readline():
            sys.exit(0)
`

/** A TCP connection from source port `sport`, held open (idle) until its input closes. */
const TCP_CLIENT = `
import socket, sys
dst, dport, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = socket.create_connection((dst, dport), timeout=5, source_address=('0.0.0.0', sport))
print('ready', flush=True)
sys.stdin.read()
c.close()
`

interface Received {
  from: string
  port: number
  text: string
}

/** A python3 helper in a namespace: what it received, and its standard input. */
class Peer {
  readonly received: Received[] = []

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {}

  static start(netns: string, script: string, args: readonly (string | number)[]): Promise<Peer> {
    const child = spawn('nsenter', [`--net=${netns}`, '--', 'python3', '-c', script, ...args.map(String)], {
      stdio: 'pipe',
    })
    const peer = new Peer(child)
    let buffer = ''
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8')
    })
    return new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`python3 helper exited ${code}: ${stderr.trim()}`)))
      child.stdout.on('data', (d: Buffer) => {
        buffer += d.toString('utf8')
        for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
          const line = buffer.slice(0, nl)
          buffer = buffer.slice(nl + 1)
          if (line === 'ready') resolve(peer)
          else peer.received.push(JSON.parse(line) as Received)
        }
      })
    })
  }

  /** Sends one datagram from the peer's socket. */
  send(dst: string, dport: number, text: string): void {
    this.child.stdin.write(`${dst} ${dport} ${text}\n`)
  }

  /** Waits (up to `timeoutMs`) until a received datagram passes `ok`; returns it. */
  async waitFor(ok: (r: Received) => boolean, timeoutMs = 5000): Promise<Received | undefined> {
    for (const deadline = Date.now() + timeoutMs; ; ) {
      const hit = this.received.find(ok)
      if (hit || Date.now() > deadline) return hit
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.stdin.end()
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(timer)
  }
}

const HOST = '198.51.100.1' // the host's uplink address: what B is masqueraded to
const X = '198.51.100.2' // the peer outside

const BACKENDS = [
  ['nftables', 'a one-shot driver', {}],
  ['nftables', 'with the conntrack watch', { soleWriter: true }],
  ['iptables', 'a one-shot driver', {}],
] as const

for (const [backend, mode, options] of BACKENDS)
  describeKernel(
    `a masquerade flow from a port made before it is published cannot shadow it (${backend}, ${mode}; kernel)`,
    () => {
      const host = useHostNetns()
      let driver: BridgeDriver
      let inet: string
      let hostHandle: Handle
      let nid: string
      let b: Box
      const uplink = uniqueName('up')
      const peers: Peer[] = []
      /** A fresh port at X per case: no entry of an earlier case is in the way. */
      let xPort = 7000

      interface Box {
        sb: Sandbox
        eid: string
        ip: string
      }

      beforeAll(async () => {
        for (const tool of ['python3', 'nsenter', 'ping']) requireProgram(tool)
        ;({ inet } = await createUplink(host, 'inetps', uplink, '2001:db8:74'))
        driver = createBridgeDriver({ owner: 'shadow', ...options })
        await driver.config({ firewallBackend: backend })
        hostHandle = await openHandle()
        nid = id()
        await driver.createNetwork(nid, { addressIPv4: '10.74.0.1/24' })
        b = await container({})
      })

      afterAll(async () => {
        control.disarmed = false
        for (const p of peers.splice(0)) await p.stop()
        if (b) await remove(b)
        if (nid) await driver?.deleteNetwork(nid)
        hostHandle?.close()
        await driver?.close()
        if (inet) deleteNetns(inet)
      })

      async function container(opts: unknown): Promise<Box> {
        const sb = await newSandbox(host.netnsPath('sb'))
        const eid = id()
        const info = await driver.createEndpoint(nid, eid, sb.key, opts)
        for (const i of info.interfaces) await sb.addInterface(i)
        if (info.gateway) await sb.setGateway(info.gateway)
        // The host learns its address now (see udp-conntrack.netns.test.ts): not within a datagram's wait.
        expect(pings('10.74.0.1', sb.key)).toBe(true)
        const ip = info.interfaces[0]?.address?.split('/')[0]
        if (!ip) throw new Error('endpoint without an IPv4 address')
        return { sb, eid, ip }
      }

      async function remove(box: Box): Promise<void> {
        await driver.deleteEndpoint(nid, box.eid)
        await box.sb.destroy()
      }

      async function peer(netns: string, script: string, args: readonly (string | number)[]): Promise<Peer> {
        const p = await Peer.start(netns, script, args)
        peers.push(p)
        return p
      }

      /** B's flows to X from `sport` in the host's table (the kernel's, through ctnetlink). */
      async function flowsOf(sport: number, proto = 17): Promise<ConntrackEntry[]> {
        return (await hostHandle.listConntrack()).filter(
          (e) => e.original.proto === proto && e.original.src === b.ip && e.original.srcPort === sport,
        )
      }

      /**
       * B keeps a flow from `sport` (and another from `sport + 1`) to a fresh port of X, both
       * masqueraded with their source port kept; then `publish` publishes `sport` to a container
       * listening on it; then X sends from that port to host:`sport`. Who got it, and what X saw of B.
       */
      async function attack(
        sport: number,
        publish: (binding: { proto: 'udp'; containerPort: number; hostPort: number }) => Promise<Box>,
      ): Promise<{ got: string[]; bFromAfter: number[]; otherKept: boolean; replyPortsAfter: number[] }> {
        const dport = xPort++
        // Started at once: a datagram of B's before X is bound is only lost (B sends every 100 ms).
        const [x, bp, other] = await Promise.all([
          peer(inet, UDP_PEER, [dport]),
          peer(b.sb.key, UDP_PEER, [sport, X, dport, `b${sport}`]),
          peer(b.sb.key, UDP_PEER, [sport + 1, X, dport, `other${sport}`]),
        ])
        // The shadow: B's flow left from host:sport, and its reply tuple comes back to host:sport.
        expect(await x.waitFor((r) => r.text === `b${sport}` && r.port === sport)).toMatchObject({ from: HOST })
        expect(await x.waitFor((r) => r.text === `other${sport}` && r.port === sport + 1)).toBeDefined()
        expect((await flowsOf(sport)).map((e) => [e.reply.dst, e.reply.dstPort])).toEqual([[HOST, sport]])
        const otherFlow = (await flowsOf(sport + 1))[0]
        expect(otherFlow?.reply.dstPort).toBe(sport + 1)

        const a = await publish({ proto: 'udp', containerPort: 53, hostPort: sport })
        const seenBefore = x.received.length
        // B goes on sending; let its next datagrams through (a flushed flow is tracked anew): the
        // publish has returned, so each of them was sent after it (polled, not a fixed sleep).
        for (const deadline = Date.now() + 5000; Date.now() < deadline; ) {
          if (x.received.slice(seenBefore).filter((r) => r.text === `b${sport}`).length >= 2) break
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
        const bFromAfter = [
          ...new Set(x.received.slice(seenBefore).flatMap((r) => (r.text === `b${sport}` ? [r.port] : []))),
        ]
        const replyPortsAfter = (await flowsOf(sport)).map((e) => e.reply.dstPort ?? 0)
        const otherKept = (await flowsOf(sport + 1)).some((e) => e.id === otherFlow?.id)

        const aSees = await peer(a.sb.key, UDP_PEER, [53])
        try {
          x.send(HOST, sport, `x${sport}`)
          const arrived = await Promise.race([
            aSees.waitFor((r) => r.text === `x${sport}`),
            bp.waitFor((r) => r.text === `x${sport}`),
          ])
          expect(arrived, `X's datagram to ${HOST}:${sport} arrives somewhere`).toBeDefined()
          await new Promise((resolve) => setTimeout(resolve, 300))
          const got = [
            ...aSees.received.filter((r) => r.text === `x${sport}`).map(() => 'A'),
            ...bp.received.filter((r) => r.text === `x${sport}`).map(() => 'B'),
          ]
          return { got, bFromAfter, otherKept, replyPortsAfter }
        } finally {
          for (const p of [x, bp, other, aSees]) await p.stop()
          await remove(a)
        }
      }

      /** A new endpoint publishing the binding (its sandbox's listener is started after). */
      const newEndpoint = (binding: object): Promise<Box> => container({ portBindings: [binding] })

      it.runIf('soleWriter' in options)(
        'the conntrack watch: a publish of a port no flow used dumps nothing; one a masquerade flow (announced after) kept is flushed',
        async () => {
          const asked = (port: number): boolean =>
            control.flushes.some((list) => list.some((m) => m.port === port || m.replyPort === port))
          control.flushes = []
          const dport = xPort++
          const x = await peer(inet, UDP_PEER, [dport])
          // A flow of B's from another port: the table is not empty (no skip for that reason).
          const other = await peer(b.sb.key, UDP_PEER, [18093, X, dport, 'b18093'])
          try {
            expect(await x.waitFor((r) => r.text === 'b18093' && r.port === 18093)).toBeDefined()
            expect(hostHandle.readSysctl('net/netfilter/nf_conntrack_count')).not.toBe('0')
            // The watch's first question reads the table; no flow used 18090.
            const quiet = await newEndpoint({ proto: 'udp', containerPort: 53, hostPort: 18090 })
            await remove(quiet)
            expect(asked(18090)).toBe(false)
            // B's flow from 18092, made after that read, is known from its NEW event alone (sent after
            // masquerade: its reply tuple holds the host port), so the publish of 18092 flushes.
            const bp = await peer(b.sb.key, UDP_PEER, [18092, X, dport, 'b18092'])
            expect(await x.waitFor((r) => r.text === 'b18092' && r.port === 18092)).toBeDefined()
            const a = await newEndpoint({ proto: 'udp', containerPort: 53, hostPort: 18092 })
            await remove(a)
            expect(asked(18092)).toBe(true)
            await bp.stop()
          } finally {
            for (const p of [x, other]) await p.stop()
          }
        },
        60_000,
      )

      it("UDP: published on a new endpoint, B's earlier flow from the port is flushed: X reaches A, not B; B's flow from another port is kept", async () => {
        control.flushes = []
        const r = await attack(18074, newEndpoint)
        expect(r.got).toEqual(['A'])
        // B's flow was tracked anew, through the firewall's remap: it now leaves from a random port.
        expect(r.bFromAfter.length).toBeGreaterThan(0)
        expect(r.bFromAfter).not.toContain(18074)
        expect(r.replyPortsAfter).not.toContain(18074)
        expect(r.otherKept).toBe(true)
        // The publish asked for it: the source-NATed flows translated to the host port, on a local address.
        expect(control.flushes.flat()).toContainEqual(
          expect.objectContaining({ proto: 'udp', replyPort: 18074, replyEndPort: 18074, snat: true }),
        )
      }, 60_000)

      it('UDP: the same when the port is published later on an existing endpoint (publishPorts)', async () => {
        const r = await attack(18076, async (binding) => {
          const a = await container({})
          await driver.publishPorts(nid, a.eid, [binding])
          return a
        })
        expect(r.got).toEqual(['A'])
        expect(r.bFromAfter).not.toContain(18076)
        expect(r.otherKept).toBe(true)
      }, 60_000)

      it("negative control: without the reply-port match B keeps its entry, and X's datagram to the published port goes to B", async () => {
        control.disarmed = true
        try {
          const r = await attack(18078, newEndpoint)
          expect(r.got).toEqual(['B'])
          expect(r.bFromAfter).toEqual([18078]) // its entry, and with it its source port, kept
          expect(r.replyPortsAfter).toEqual([18078])
          expect(r.otherKept).toBe(true)
        } finally {
          control.disarmed = false
        }
      }, 60_000)

      it("TCP: B's established connection from the port is kept at the publish (its peer holds it too: it takes no new connection)", async () => {
        const sport = 18080
        const dport = xPort++
        const server = await peer(inet, TCP_SERVER, [dport])
        const conn = await peer(b.sb.key, TCP_CLIENT, [X, dport, sport])
        try {
          expect(await server.waitFor((r) => r.port === sport)).toMatchObject({ from: HOST })
          const before = (await flowsOf(sport, 6)).map((e) => e.id)
          expect(before).toHaveLength(1)
          const a = await newEndpoint({ proto: 'tcp', containerPort: 80, hostPort: sport })
          try {
            expect((await flowsOf(sport, 6)).map((e) => e.id)).toEqual(before)
          } finally {
            await remove(a)
          }
        } finally {
          for (const p of [conn, server]) await p.stop()
        }
      }, 60_000)
    },
  )
