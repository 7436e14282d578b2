import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createController, type NetworkController } from '@cnm/controller'
import { createMemorySandboxes } from '@cnm/controller/testing'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDockerPluginApp, PLUGIN_MEDIA_TYPE } from './server.js'

const NID = 'c25f4d2bd5df21087c9d6e379502630e8fe2dae48afa84f3c927e6a94b7e269e'
const EID = '3b08332d9b4ae3cbfc5ff44d006aae53b871f84e731353ecac2e70467efe50d4'

describe('the plugin protocol over HTTP (Fastify, no kernel)', () => {
  let dir: string
  let controller: NetworkController
  let app: FastifyInstance
  const post = async (url: string, body?: unknown, raw?: string) => {
    const res = await app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': PLUGIN_MEDIA_TYPE },
      ...(raw !== undefined ? { payload: raw } : body === undefined ? {} : { payload: JSON.stringify(body) }),
    })
    return { status: res.statusCode, type: res.headers['content-type'], body: res.json() as Record<string, unknown> }
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cnm-docker-plugin-'))
    controller = await createController({
      storePath: path.join(dir, 'cnm.db'),
      sandboxBackend: createMemorySandboxes(path.join(dir, 'netns')),
    })
    app = createDockerPluginApp({ controller, stateFile: path.join(dir, 'docker-plugin.json') })
    await app.ready()
  })
  afterAll(async () => {
    await app?.close()
    await controller?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('activates as a network driver and an IPAM driver, local scope, with no body (as dockerd sends it)', async () => {
    const res = await app.inject({ method: 'POST', url: '/Plugin.Activate' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toContain(PLUGIN_MEDIA_TYPE)
    expect(res.json()).toEqual({ Implements: ['NetworkDriver', 'IpamDriver'] })
    expect((await post('/NetworkDriver.GetCapabilities')).body).toEqual({ Scope: 'local', ConnectivityScope: 'local' })
    expect((await post('/IpamDriver.GetCapabilities', null)).body).toEqual({
      RequiresMACAddress: false,
      RequiresRequestReplay: false,
    })
    expect((await post('/IpamDriver.GetDefaultAddressSpaces')).body).toMatchObject({
      LocalDefaultAddressSpace: 'cnm-local',
    })
  })

  it('answers an unknown request 404 with Err naming it; malformed bodies 400 with Err', async () => {
    expect(await post('/NetworkDriver.Frobnicate', {})).toMatchObject({
      status: 404,
      body: { Err: expect.stringContaining('POST /NetworkDriver.Frobnicate') },
    })
    expect(await post('/NetworkDriver.CreateNetwork', undefined, '{"NetworkID":')).toMatchObject({
      status: 400,
      body: { Err: expect.stringContaining('not JSON') },
    })
    expect(await post('/NetworkDriver.CreateNetwork', { NetworkID: 7 })).toMatchObject({
      status: 400,
      body: { Err: expect.stringContaining('NetworkID') },
    })
  })

  it('answers what it cannot do with Err (network driver) or Error (IPAM), naming the object and the code', async () => {
    const create = await post('/NetworkDriver.CreateNetwork', {
      NetworkID: NID,
      Options: { 'com.docker.network.generic': { 'com.docker.network.bridge.default_bridge': 'true' } },
      IPv4Data: [{ Pool: '10.77.0.0/24', Gateway: '10.77.0.1/24' }],
    })
    expect(create).toMatchObject({ status: 200, body: { Err: expect.stringContaining(`network ${NID}: option`) } })
    expect(create.body.Err).toContain('(ERR_DOCKER_INVALID_REQUEST)')
    expect(controller.networks()).toEqual([]) // refused before anything changed
    expect((await post('/NetworkDriver.CreateNetwork', { NetworkID: 'x' })).body.Err).toContain('is not a Docker id')
    expect((await post('/NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: EID })).body.Err).toBe(
      `network ${NID} is not a cnm network (ERR_DOCKER_UNKNOWN_OBJECT)`,
    )
    expect(
      (await post('/NetworkDriver.Join', { NetworkID: NID, EndpointID: EID, SandboxKey: '/x' })).body.Err,
    ).toContain(`endpoint ${EID} of network ${NID} is not a cnm endpoint`)
    expect((await post('/NetworkDriver.AllocateNetwork', { NetworkID: NID })).body.Err).toContain('swarm')
    expect((await post('/IpamDriver.RequestAddress', { PoolID: 'default' })).body).toEqual({
      Error: 'pool "default" is not a pool of cnm\'s IPAM (ERR_DOCKER_UNKNOWN_OBJECT)',
    })
  })

  it('deletes what is already gone without complaint (dockerd retries, or deletes after a crash)', async () => {
    for (const [url, body] of [
      ['/NetworkDriver.DeleteNetwork', { NetworkID: NID }],
      ['/NetworkDriver.DeleteEndpoint', { NetworkID: NID, EndpointID: EID }],
      ['/NetworkDriver.Leave', { NetworkID: NID, EndpointID: EID }],
      ['/NetworkDriver.RevokeExternalConnectivity', { NetworkID: NID, EndpointID: EID }],
      ['/NetworkDriver.FreeNetwork', { NetworkID: NID }],
      ['/NetworkDriver.DiscoverNew', { DiscoveryType: 1, DiscoveryData: { Address: '10.0.0.1' } }],
      ['/IpamDriver.ReleasePool', { PoolID: '10.77.0.0/24' }],
      ['/IpamDriver.ReleaseAddress', { PoolID: '10.77.0.0/24', Address: '10.77.0.2' }],
    ] as const) {
      expect(await post(url, body), url).toMatchObject({ status: 200, body: {} })
    }
  })
})
