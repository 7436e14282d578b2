// Loops one mutating verb (and its inverse) on a store until it is killed; the fault suite
// (faults.kill.netns.test.ts) SIGKILLs it at random moments and opens the store again.
// argv = storePath sandboxDir verb. Prints "ready" once set up, then "b" before and "e" after each
// verb (stdout is a pipe: written synchronously), so the test knows whether a kill landed inside one.
// It first removes what earlier (killed) runs left, with the same verbs: those are killed too.
import { createController } from '../dist/index.js'

const [storePath, sandboxDir, verb] = process.argv.slice(2)
const c = await createController({ storePath, sandboxDir })
const d = await c.newNetworkDriver('bridge')
const net = c.networkByName('kill') ?? (await c.newNetwork(d, 'kill', { addressIPv4: '10.75.0.1/16' }))
const tag = (i) => `${process.pid}-${i}`
const mark = (m) => process.stdout.write(`${m}\n`)
const published = { portBindings: [{ proto: 'tcp', containerPort: 80 }] }
const sandbox = async (id) => c.sandboxes().find((s) => s.containerID === id) ?? (await c.newSandbox(id))
const mine = (prefix) => c.sandboxes().filter((s) => s.containerID.startsWith(prefix))

/** Each verb: what to clear first (left by killed runs), then one step of the loop. */
const VERBS = {
  // network create / rm
  network: {
    clear: async () => {
      for (const n of c.networks().filter((x) => x.name.startsWith('kn'))) await n.delete()
    },
    step: async (i) => {
      const n = await c.newNetwork(d, `kn${tag(i)}`, { addressIPv4: `10.76.${i % 250}.1/24` })
      if (i % 3 !== 0) await n.delete()
    },
  },
  // sandbox create / rm
  sandbox: {
    clear: async () => {
      for (const s of mine('ks')) await s.destroy()
    },
    step: async (i) => {
      const s = await c.newSandbox(`ks${tag(i)}`)
      if (i % 3 !== 0) await s.destroy()
    },
  },
  // connect (an endpoint born in the sandbox, joined, its port published) / disconnect
  connect: {
    clear: async () => {
      for (const e of net.endpoints().filter((x) => x.name.startsWith('kc'))) await e.delete()
    },
    step: async (i) => {
      const sb = await sandbox('kc-box')
      const e = await net.connect(sb, `kc${tag(i)}`, published, { allowSameNetwork: true })
      if (i % 3 !== 0) await e.delete() // disconnect: the endpoint leaves and goes
    },
  },
  // endpoint create / rm (parked in the host, with a published port)
  endpoint: {
    clear: async () => {
      for (const e of net.endpoints().filter((x) => x.name.startsWith('ke'))) await e.delete()
    },
    step: async (i) => {
      const { endpoint } = await net.createEndpoint(`ke${tag(i)}`, undefined, published)
      if (i % 3 !== 0) await endpoint.delete()
    },
  },
  // join / leave (an endpoint moved in from the host and back)
  join: {
    clear: async () => {
      const e = net.endpoints().find((x) => x.name === 'kj')
      const sb = await sandbox('kj-box')
      if (e && sb.endpoints().some((x) => x.id === e.id)) await e.leave(sb)
    },
    step: async () => {
      const sb = await sandbox('kj-box')
      const e =
        net.endpoints().find((x) => x.name === 'kj') ?? (await net.createEndpoint('kj', undefined, published)).endpoint
      await e.join(sb)
      await e.leave(sb)
    },
  },
  // rm of a sandbox with a connected, published endpoint (it goes with the sandbox)
  'sandbox-rm': {
    clear: async () => {
      for (const s of mine('kr')) await s.destroy()
    },
    step: async (i) => {
      const s = await c.newSandbox(`kr${tag(i)}`)
      await net.connect(s, `kr${tag(i)}`, published)
      if (i % 3 !== 0) await s.destroy()
    },
  },
}

const v = VERBS[verb]
if (!v) throw new Error(`unknown verb ${verb}`)
mark('ready')
mark('b')
await v.clear()
mark('e')
for (let i = 0; ; i++) {
  mark('b')
  await v.step(i)
  mark('e')
}
