import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describeKernel, run, uniqueName, useHostNetns } from '@cnm/netlink/testing'
import { expect, it } from 'vitest'

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url))

// The same verbs through the fallback: `nft` spawned (CNM_NFT=spawn), as where libnftables or the
// addon is missing. A child process, so the in-process path of this one is not disturbed.
const SCRIPT = `
const { createFirewall } = await import(process.argv[1])
const fw = await createFirewall({ backend: 'nftables' })
const bridge = process.argv[2]
await fw.addNetwork({ id: 'spawned', bridge, subnets: ['10.233.0.0/24'] })
await fw.addPorts([{ proto: 'tcp', hostPort: 18233, containerIP: '10.233.0.2', containerPort: 80, bridge }])
const before = await fw.inventory()
await fw.deletePorts([{ proto: 'tcp', hostPort: 18233, containerIP: '10.233.0.2', containerPort: 80, bridge }])
await fw.deleteNetwork({ bridge })
const after = await fw.inventory()
process.stdout.write(JSON.stringify({ before, after }))
`

describeKernel('firewall through spawned nft (kernel)', () => {
  useHostNetns()

  it('programs, lists and removes the same rules when nft is spawned', () => {
    const bridge = uniqueName('br')
    run('ip', ['link', 'add', bridge, 'type', 'bridge'])
    try {
      const res = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT, dist, bridge], {
        encoding: 'utf8',
        env: { ...process.env, CNM_NFT: 'spawn' },
      })
      expect(res.stderr).toBe('')
      const { before, after } = JSON.parse(res.stdout) as {
        before: { networks: { bridge: string }[]; ports: { hostPort: number }[] }
        after: { objects: string[] }
      }
      expect(before.networks.map((n) => n.bridge)).toEqual([bridge])
      expect(before.ports.map((p) => p.hostPort)).toEqual([18233])
      expect(after.objects).toEqual([])
      expect(run('nft', ['list', 'ruleset']).stdout.trim()).toBe('')
    } finally {
      run('ip', ['link', 'del', bridge])
    }
  })
})
