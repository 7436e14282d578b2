// Creates N endpoints on network `shared` of a store, as fast as it can (the concurrency test
// runs two of these at once): argv = storePath sandboxDir N tag. Prints the addresses as JSON.
import { createController } from '../dist/index.js'

const [storePath, sandboxDir, n, tag] = process.argv.slice(2)
const c = await createController({ storePath, sandboxDir })
const net = c.networkByName('shared')
const made = []
for (let i = 0; i < Number(n); i++) {
  const { sandboxInfo } = await net.createEndpoint(`${tag}-${i}`, undefined, {
    portBindings: [{ proto: 'tcp', containerPort: 80 }],
  })
  made.push(sandboxInfo.interfaces[0].address)
}
await c.close()
process.stdout.write(`${JSON.stringify(made)}\n`)
