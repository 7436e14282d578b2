import { parseIpam } from '@cnm/driverapi'
import { describeDriver } from '@cnm/driverapi/testing'
import { describe, expect, it } from 'vitest'
import { createNullDriver } from './null-driver.js'

describeDriver('null', {
  create: async () => {
    const d = createNullDriver()
    await d.config({})
    return d
  },
  networkOptions: () => ({}),
  invalidNetworkOptions: [{ subnet: '10.0.0.0/24' }, 'nope', [1]],
  invalidNetworkIpam: [parseIpam({ v4: [{ subnet: '10.0.0.0/24' }] })],
  givesAddresses: false,
})

describe('the null driver', () => {
  it('gives no interface, address or route', async () => {
    const d = createNullDriver()
    await d.createNetwork('n'.repeat(64), {})
    expect(await d.createEndpoint('n'.repeat(64), 'e'.repeat(64), '/run/x', {})).toEqual({ interfaces: [] })
    expect(d.endpointInfo('n'.repeat(64), 'e'.repeat(64))).toMatchObject({ ipv4: undefined, ports: [] })
    expect(d.persistence).toBeUndefined()
    await expect(
      d.createEndpoint('n'.repeat(64), 'f'.repeat(64), '', { portBindings: [{ proto: 'tcp', containerPort: 80 }] }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG', kind: 'invalid' })
  })
})
