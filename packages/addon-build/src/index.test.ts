import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { buildAddon, nodeGypInvocation, nodePrefix } from './index.js'

describe('nodeGypInvocation', () => {
  it('points node-gyp at the running Node prefix', () => {
    expect(nodePrefix('/usr/bin/node')).toBe('/usr')
    const inv = nodeGypInvocation({ execPath: '/opt/node/bin/node', env: {}, exists: () => false })
    expect(inv).toEqual({ file: 'node-gyp', args: ['rebuild', '--nodedir=/opt/node'], nodedir: '/opt/node' })
  })

  it("runs npm's bundled node-gyp with the same Node when present", () => {
    const inv = nodeGypInvocation({ execPath: '/usr/bin/node', env: {}, exists: () => true })
    expect(inv.file).toBe('/usr/bin/node')
    expect(inv.args).toEqual([
      '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
      'rebuild',
      '--nodedir=/usr',
    ])
  })

  it("prefers the package manager's node-gyp and nodedir", () => {
    const env = { npm_config_node_gyp: '/pm/node-gyp.js', npm_config_nodedir: '/headers' }
    const inv = nodeGypInvocation({ execPath: '/usr/bin/node', env, exists: () => true })
    expect(inv).toEqual({
      file: '/usr/bin/node',
      args: ['/pm/node-gyp.js', 'rebuild', '--nodedir=/headers'],
      nodedir: '/headers',
    })
  })
})

describe('buildAddon', () => {
  it('skips off Linux', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    expect(buildAddon({ platform: 'darwin', label: 'x' })).toBe(0)
    expect(warn).toHaveBeenCalledWith('x: the native addon is Linux-only; skipping its build')
    warn.mockRestore()
  })

  it('fails with the package name when there is no binding.gyp', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'addon-build-'))
    try {
      writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: '@cnm/example' }))
      const error = vi.spyOn(console, 'error').mockImplementation(() => {})
      expect(buildAddon({ packageDir: dir, platform: 'linux' })).toBe(1)
      expect(error).toHaveBeenCalledWith(`@cnm/example: no binding.gyp in ${dir}`)
      error.mockRestore()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('fails clearly when the Node headers are missing', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'addon-build-'))
    try {
      writeFileSync(path.join(dir, 'binding.gyp'), '{"targets": []}')
      const error = vi.spyOn(console, 'error').mockImplementation(() => {})
      const env = { npm_config_nodedir: path.join(dir, 'nowhere') }
      expect(buildAddon({ packageDir: dir, platform: 'linux', env, label: 'x' })).toBe(1)
      expect(error.mock.calls[0]?.[0]).toMatch(/^x: Node headers not found under .*nowhere/)
      error.mockRestore()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
