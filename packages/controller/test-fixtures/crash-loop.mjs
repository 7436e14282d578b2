// A process that loops create / join / publish / leave / delete on a store until it is killed.
// Used by the crash test (controller.crash.netns.test.ts): argv = storePath sandboxDir.
import { createController } from '../dist/index.js'

const [storePath, sandboxDir] = process.argv.slice(2)
const c = await createController({ storePath, sandboxDir })
const d = await c.newNetworkDriver('bridge')
const net = c.networkByName('crash') ?? (await c.newNetwork(d, 'crash', { addressIPv4: '10.99.0.1/16' }))
process.stdout.write('ready\n')
for (let i = 0; ; i++) {
  const tag = `${process.pid}-${i}`
  const sb = await c.newSandbox(`ct${tag}`)
  const { endpoint } = await net.createEndpoint(`ep${tag}`, sb.key, {
    portBindings: [{ proto: 'tcp', containerPort: 80 }],
  })
  await endpoint.join(sb)
  if (i % 5 === 0) continue // leave some behind, joined and published
  await endpoint.leave(sb)
  await endpoint.delete()
  await sb.destroy()
}
