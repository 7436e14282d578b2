import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { buildAddon, buildIsFresh, gypTargets, prebuildDir, prebuildIsFresh, prebuiltAddon } from './index.js'

let dir: string
const touch = (file: string, seconds: number): void => {
  mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
  writeFileSync(path.join(dir, file), 'x')
  utimesSync(path.join(dir, file), seconds, seconds)
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'addon-build-'))
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: '@cnm/example' }))
  writeFileSync(
    path.join(dir, 'binding.gyp'),
    JSON.stringify({ targets: [{ target_name: 'cnm_x', sources: ['native/x.c'] }] }),
  )
  utimesSync(path.join(dir, 'binding.gyp'), 1000, 1000)
  touch('native/x.c', 1000)
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe('gypTargets', () => {
  it('names each output: addons end in .node, executables do not', () => {
    writeFileSync(
      path.join(dir, 'binding.gyp'),
      JSON.stringify({ targets: [{ target_name: 'a' }, { target_name: 'b', type: 'executable' }] }),
    )
    expect(gypTargets(dir)).toEqual([
      { name: 'a', file: 'a.node', addon: true },
      { name: 'b', file: 'b', addon: false },
    ])
  })
})

describe('freshness', () => {
  it('a build counts only when newer than every native source', () => {
    expect(buildIsFresh(dir)).toBe(false)
    touch('build/Release/cnm_x.node', 2000)
    expect(buildIsFresh(dir)).toBe(true)
    touch('native/x.c', 3000)
    expect(buildIsFresh(dir)).toBe(false)
  })

  it("finds this machine's prebuild the way node-gyp-build loads it, and only when it is fresh", () => {
    expect(prebuiltAddon(dir)).toBeUndefined()
    const rel = path.relative(dir, path.join(prebuildDir(dir), 'node.napi.glibc.node'))
    touch(rel, 1000) // tarballs give every file the same time
    expect(prebuildIsFresh(dir)).toBe(true)
    expect(prebuiltAddon(dir)).toBe(path.join(dir, rel))
    // node-gyp-build's own lookup still prefers build/Release; ours ignores it.
    touch('build/Release/cnm_x.node', 500)
    expect(prebuiltAddon(dir)).toBe(path.join(dir, rel))
    touch('native/x.c', 3000)
    expect(prebuildIsFresh(dir)).toBe(false)
  })
})

describe('buildAddon', () => {
  it('builds nothing when a fresh prebuild loads here', () => {
    touch(path.relative(dir, path.join(prebuildDir(dir), 'node.napi.glibc.node')), 2000)
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    // No node-gyp could run with this nodedir: a build attempt would fail.
    const env = { npm_config_nodedir: path.join(dir, 'nowhere') }
    expect(buildAddon({ packageDir: dir, platform: 'linux', env })).toBe(0)
    expect(log.mock.calls[0]?.[0]).toMatch(/^@cnm\/example: using the prebuilt prebuilds\/.*; no build needed$/)
    log.mockRestore()
  })

  it('builds when asked to build from source, and an optional build only warns on failure', () => {
    touch(path.relative(dir, path.join(prebuildDir(dir), 'node.napi.glibc.node')), 2000)
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const env = { npm_config_nodedir: path.join(dir, 'nowhere'), npm_config_build_from_source: 'true' }
    expect(buildAddon({ packageDir: dir, platform: 'linux', env })).toBe(1)
    expect(buildAddon({ packageDir: dir, platform: 'linux', env, optional: true })).toBe(0)
    expect(warn.mock.calls[0]?.[0]).toMatch(/optional native build failed/)
    error.mockRestore()
    warn.mockRestore()
  })
})
