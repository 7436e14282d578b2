// A process that loops every mutating verb on a store until it is killed: network create / rm,
// sandbox create, connect with a published port (an endpoint born in the sandbox), join, leave,
// disconnect (endpoint rm: its port unpublished), sandbox rm. Used by the crash test
// (controller.crash.netns.test.ts): argv = storePath sandboxDir. Prints "ready" once set up, then
// "b <verb>" before and "e <verb>" after each verb (stdout is a pipe: written synchronously), so
// the test can aim its SIGKILL inside a chosen verb and tell where it landed.
import { createController } from '../dist/index.js'

const [storePath, sandboxDir] = process.argv.slice(2)
const c = await createController({ storePath, sandboxDir })
const d = await c.newNetworkDriver('bridge')
const net = c.networkByName('crash') ?? (await c.newNetwork(d, 'crash', { addressIPv4: '10.99.0.1/16' }))
const mark = (m) => process.stdout.write(`${m}\n`)
/** Runs one verb between its markers. */
const verb = async (name, fn) => {
  mark(`b ${name}`)
  const out = await fn()
  mark(`e ${name}`)
  return out
}
process.stdout.write('ready\n')
for (let i = 0; ; i++) {
  const tag = `${process.pid}-${i}`
  if (i % 4 === 0) {
    const n = await verb('network-create', () => c.newNetwork(d, `cn${tag}`, { addressIPv4: `10.98.${i % 250}.1/24` }))
    await verb('network-rm', () => n.delete())
  }
  const sb = await verb('sandbox-create', () => c.newSandbox(`ct${tag}`))
  const { endpoint } = await verb('connect-publish', () =>
    net.createEndpoint(`ep${tag}`, sb.key, { portBindings: [{ proto: 'tcp', containerPort: 80 }] }),
  )
  await verb('join', () => endpoint.join(sb))
  if (i % 5 === 0) continue // leave some behind, joined and published
  await verb('leave', () => endpoint.leave(sb))
  await verb('disconnect-unpublish', () => endpoint.delete())
  await verb('sandbox-rm', () => sb.destroy())
}
