import type { Endpoint, Network, NetworkController, Sandbox } from '@cnm/controller'
import { createEndpoint } from '../ops/endpoint.js'
import type { Runner } from './runner.js'
import { startHttpServer } from './traffic.js'

/** A sandbox of the demo with its endpoint; its HTTP server listens on port 80. */
export interface DemoBox {
  name: string
  sandbox: Sandbox
  endpoint: Endpoint
  ip: string
}

/** A sandbox, an endpoint born in it and joined (publishing `ports`), an HTTP server inside. */
async function makeBox(
  r: Runner,
  c: NetworkController,
  net: Network,
  name: string,
  ports: unknown[],
): Promise<DemoBox> {
  const sandbox = await r.step(`sandbox ${name} (a network namespace)`, () => c.newSandbox(name))
  r.undo(`remove sandbox ${name}`, () => sandbox.destroy())
  const options = ports.length > 0 ? { portBindings: ports } : {}
  const endpoint = await r.step(`endpoint ${name}: veth born in the sandbox, joined`, () =>
    createEndpoint(net, name, options, sandbox),
  )
  r.undo(`delete endpoint ${name} (veth, published ports)`, () => endpoint.delete())
  const server = await r.step(`http server on :80 inside sandbox ${name}`, () => startHttpServer(sandbox.key, name, 80))
  r.undo(`stop the http server in ${name}`, () => server.stop())
  return { name, sandbox, endpoint, ip: endpoint.inspect().ipv4 ?? '' }
}

/** The demo's network and its two sandboxes: `web` publishes port 80 on `hostPort` (or any). */
export async function setUpDemo(
  r: Runner,
  c: NetworkController,
  names: { network: string; web: string; client: string },
  hostPort: number | undefined,
): Promise<{ network: Network; web: DemoBox; client: DemoBox }> {
  const driver = await c.newNetworkDriver('bridge', {})
  const network = await r.step(`network ${names.network} (bridge driver)`, () =>
    c.newNetwork(driver, names.network, {}),
  )
  r.undo(`delete network ${names.network} (bridge, firewall rules)`, () => network.delete())
  const port = { proto: 'tcp', containerPort: 80, ...(hostPort ? { hostPort } : {}) }
  const web = await makeBox(r, c, network, names.web, [port])
  const client = await makeBox(r, c, network, names.client, [])
  return { network, web, client }
}
