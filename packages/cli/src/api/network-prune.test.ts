import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type CnmClient, createClient } from '@cnm/client'
import { createController } from '@cnm/controller'
import { createMemorySandboxes } from '@cnm/controller/testing'
import { createMemoryDriver } from '@cnm/driverapi/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ApiServerHandle, serveApi } from '../serve.js'

// Network labels and POST /v1/networks/prune through the daemon's REST API (the in-memory driver
// registered as `bridge`: no root), with Docker's prune filters: until, label, label!.

describe('labels and prune over REST (in-memory driver, no kernel)', () => {
  let tmp: string
  let server: ApiServerHandle
  let controller: Awaited<ReturnType<typeof createController>>
  let client: CnmClient

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-prune-'))
    const socketPath = path.join(tmp, 'cnm.sock')
    controller = await createController({
      storePath: path.join(tmp, 'cnm.db'),
      sandboxDir: path.join(tmp, 'sb'),
      drivers: { bridge: (ctx) => createMemoryDriver(ctx) },
      sandboxBackend: createMemorySandboxes(path.join(tmp, 'sb')),
    })
    server = await serveApi({ controller, socketPath, socketGroup: false })
    client = createClient({ host: `unix://${socketPath}` })
  })
  afterAll(async () => {
    client?.close()
    await server?.close()
    await controller?.close()
    rmSync(tmp, { recursive: true, force: true })
  })

  it('labels are stored, inspected, listed; prune removes only idle networks that match', async () => {
    const before = Math.floor(Date.now() / 1000) - 1
    const prod = await client.createNetwork({ name: 'prod', labels: { env: 'prod', 'com.example.team': 'net' } })
    expect(prod.labels).toEqual({ env: 'prod', 'com.example.team': 'net' })
    expect(Date.parse(prod.created ?? '')).toBeGreaterThanOrEqual(before * 1000)
    await client.createNetwork({ name: 'dev', labels: { env: 'dev', keep: '' } })
    await client.createNetwork({ name: 'plain' })
    await client.createNetwork({ name: 'busy', labels: { env: 'dev' } })
    await client.createEndpoint('busy', { name: 'ep1' })
    expect((await client.inspectNetwork('dev')).labels).toEqual({ env: 'dev', keep: '' })
    expect((await client.listNetworks()).map((n) => [n.name, n.labels])).toEqual([
      ['prod', { env: 'prod', 'com.example.team': 'net' }],
      ['dev', { env: 'dev', keep: '' }],
      ['plain', {}],
      ['busy', { env: 'dev' }],
    ])

    // Nothing was created before `before`: nothing goes.
    expect(await client.pruneNetworks({ until: String(before) })).toEqual({ networksDeleted: [], errors: [] })
    // Created within the last hour, so `until=1h` (before an hour ago) matches none either.
    expect(await client.pruneNetworks({ until: '1h' })).toEqual({ networksDeleted: [], errors: [] })
    // label=env=dev matches dev and busy; busy has an endpoint and stays.
    expect(await client.pruneNetworks({ label: ['env=dev'] })).toEqual({ networksDeleted: ['dev'], errors: [] })
    // label!=env: only networks without an env label.
    expect(await client.pruneNetworks({ labelNot: ['env'] })).toEqual({ networksDeleted: ['plain'], errors: [] })
    // No filter: every idle network.
    expect(await client.pruneNetworks()).toEqual({ networksDeleted: ['prod'], errors: [] })
    expect((await client.listNetworks()).map((n) => n.name)).toEqual(['busy'])
  })

  it('refuses bad filters and bad labels before anything changes', async () => {
    await client.createNetwork({ name: 'stays' })
    await expect(client.pruneNetworks({ until: 'soon' })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      kind: 'invalid',
    })
    await expect(client.pruneNetworks({ label: ['=x'] })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    await expect(client.createNetwork({ name: 'badlabel', labels: { 'a=b': 'x' } })).rejects.toMatchObject({
      code: 'ERR_INVALID_LABEL',
      kind: 'invalid',
    })
    await expect(client.request('POST', '/v1/networks/prune', { name: ['stays'] })).rejects.toMatchObject({
      code: 'ERR_INVALID_REQUEST',
    })
    expect((await client.listNetworks()).map((n) => n.name)).toContain('stays')
    expect((await client.listNetworks()).map((n) => n.name)).not.toContain('badlabel')
  })
})
