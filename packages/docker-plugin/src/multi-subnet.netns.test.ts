import { describeKernel } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { DockerHost, HELLO, HOST_IP } from './test/docker-host.js'

// dockerd 20.10 as the client of `cnm serve --docker-plugin` (see test/docker-host.ts):
// `docker network create -d cnm --subnet A --subnet B --gateway …` sends two IPv4Data entries and
// asks cnm's IPAM for two pools; the cnm network holds both gateways, `--ip` in the second subnet
// routes through that subnet's gateway, and a port published there answers. Checked with `ip`,
// curl and ping.

describeKernel('Docker plugin: several subnets per family on one network', () => {
  let h: DockerHost

  beforeAll(async () => {
    h = await DockerHost.start()
  }, 180_000)

  afterAll(async () => {
    await h?.close()
  }, 180_000)

  it('docker network create -d cnm --subnet A --subnet B: both gateways, --ip in either, a published port in the second', () => {
    const id = h.docker(
      'network',
      'create',
      '-d',
      'cnm',
      '--ipam-driver',
      'cnm',
      '--subnet',
      '10.97.0.0/24',
      '--subnet',
      '10.98.0.0/24',
      '--gateway',
      '10.97.0.1',
      '--gateway',
      '10.98.0.254',
      'multi',
    )
    try {
      const net = h.cnmNetwork(id)
      const addresses = h
        .ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>('addr', 'show', 'dev', net?.device ?? '')
        .flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`))
      expect(addresses).toEqual(expect.arrayContaining(['10.97.0.1/24', '10.98.0.254/24']))
      h.web('ms1', '--network', 'multi', '--ip', '10.98.0.9', '-p', '8097:80')
      h.web('ms2', '--network', 'multi')
      // dockerd asks the pools in the order of its IPAM config, which the docker CLI builds from a
      // Go map: either subnet may come first. ms2 gets that pool's first free host address.
      const config = JSON.parse(h.docker('network', 'inspect', '-f', '{{json .IPAM.Config}}', 'multi')) as {
        Subnet: string
      }[]
      const firstIs97 = config[0]?.Subnet === '10.97.0.0/24'
      const [ms2Address, ms2Gateway] = firstIs97 ? ['10.97.0.2', '10.97.0.1'] : ['10.98.0.1', '10.98.0.254']
      expect([h.ipOf('ms1', 'multi'), h.ipOf('ms2', 'multi')]).toEqual(['10.98.0.9', ms2Address])
      expect(h.docker('exec', 'ms1', 'ip', 'route')).toMatch(/^default via 10\.98\.0\.254 /mu)
      expect(h.docker('exec', 'ms2', 'ip', 'route')).toMatch(
        new RegExp(`^default via ${ms2Gateway.replaceAll('.', '\\.')} `, 'mu'),
      )
      expect(h.get(`http://${HOST_IP}:8097/`)).toBe(HELLO)
      // From the first subnet to the second, through the bridge's gateways: ms2 when dockerd put
      // it in 10.97.0.0/24, else a third container given an address there.
      let inFirst = 'ms2'
      if (!firstIs97) {
        h.web('ms3', '--network', 'multi', '--ip', '10.97.0.7')
        expect(h.docker('exec', 'ms3', 'ip', 'route')).toMatch(/^default via 10\.97\.0\.1 /mu)
        inFirst = 'ms3'
      }
      expect(h.dockerResult('exec', inFirst, 'ping', '-c', '1', '-W', '3', '10.98.0.9').status).toBe(0)
    } finally {
      h.dockerResult('rm', '-f', 'ms1', 'ms2', 'ms3')
      h.docker('network', 'rm', 'multi')
    }
    expect(h.cnmNetwork(id)).toBeUndefined()
  }, 120_000)
})
