// A controller in its own process, driven by JSON lines on stdin (the fault suite races two of
// these, and checks what a second process gets from a store it cannot use): argv = storePath
// sandboxDir. Prints {"ready":true} once its controller is open (or {"ready":false,code,message}
// and exits), then answers each request {id, op, ...} with {id, ok, code?, message?}.
import { createInterface } from 'node:readline'
import { createController } from '../dist/index.js'

const [storePath, sandboxDir] = process.argv.slice(2)
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`)

let c
try {
  c = await createController({ storePath, sandboxDir })
} catch (err) {
  say({ ready: false, code: err.code, kind: err.kind, message: err.message })
  process.exit(0)
}

/** Looks objects up by name after catching up with the store (another process may have changed it). */
const network = (name) => c.networkByName(name) ?? missing('network', name)
const sandbox = (id) => c.sandboxes().find((s) => s.containerID === id) ?? missing('sandbox', id)
const endpoint = (net, name) =>
  network(net)
    .endpoints()
    .find((e) => e.name === name) ?? missing('endpoint', name)
function missing(what, name) {
  const err = new Error(`no ${what} ${name} (looked up before the operation)`)
  err.code = `LOOKUP_NO_${what.toUpperCase()}`
  throw err
}

/**
 * Each op looks up what it names, then returns the operation itself: a request's `pauseMs` waits
 * between the two (the other process may change the store meanwhile: the operation must re-check).
 */
const OPS = {
  refresh: () => () => undefined,
  // What this process holds, for failure messages.
  state: () => () => ({
    networks: c.networks().map((n) => `${n.name}: ${n.endpoints().map((e) => e.name)}`),
    sandboxes: c.sandboxes().map((s) => s.containerID),
  }),
  'network-create': (r) => async () => {
    await c.newNetwork(await c.newNetworkDriver('bridge'), r.name, { addressIPv4: r.subnet })
  },
  'network-rm': (r) => {
    const net = network(r.name)
    return () => net.delete()
  },
  'sandbox-create': (r) => async () => {
    await c.newSandbox(r.sandbox)
  },
  'sandbox-rm': (r) => {
    const sb = sandbox(r.sandbox)
    return () => sb.destroy()
  },
  connect: (r) => {
    const [net, sb] = [network(r.network), sandbox(r.sandbox)]
    return async () => {
      await net.connect(sb, r.name, r.options ?? {}, r.joinOptions)
    }
  },
  // As `cnm disconnect` does: every endpoint of the network joined to the sandbox is deleted.
  disconnect: (r) => {
    const net = network(r.network)
    const joined = sandbox(r.sandbox)
      .endpoints()
      .filter((e) => e.network.id === net.id)
    if (joined.length === 0) missing('join', r.sandbox)
    return async () => {
      for (const e of joined) await e.delete()
    }
  },
  'endpoint-create': (r) => {
    const net = network(r.network)
    return async () => {
      await net.createEndpoint(r.name, undefined, r.options ?? {})
    }
  },
  'endpoint-rm': (r) => {
    const ep = endpoint(r.network, r.name)
    return () => ep.delete()
  },
  join: (r) => {
    const [ep, sb] = [endpoint(r.network, r.name), sandbox(r.sandbox)]
    return () => ep.join(sb)
  },
  leave: (r) => {
    const [ep, sb] = [endpoint(r.network, r.name), sandbox(r.sandbox)]
    return () => ep.leave(sb)
  },
}

say({ ready: true })
const lines = createInterface({ input: process.stdin })
lines.on('line', async (line) => {
  const req = JSON.parse(line)
  try {
    await c.refresh()
    const op = OPS[req.op]
    if (!op) throw new Error(`unknown op ${req.op}`)
    const run = op(req)
    if (req.pauseMs) await new Promise((resolve) => setTimeout(resolve, req.pauseMs))
    const value = await run()
    say({ id: req.id, ok: true, ...(value ? { value } : {}) })
  } catch (err) {
    say({ id: req.id, ok: false, code: err.code ?? 'UNTYPED', kind: err.kind, message: err.message })
  }
})
lines.on('close', async () => {
  await c.close()
  process.exit(0)
})
