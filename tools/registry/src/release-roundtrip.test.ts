// The release round trip against a real registry: Verdaccio on a free loopback port with its own
// storage; every package packed as `pnpm publish -r` packs it and published to it at once; then
// fresh projects install from it as a user would: the addons' tarballs on a PATH with no compiler,
// `@cnm/portallocator` alone, and `@cnm/cli` as a working `cnm`. Clients talk to nothing but the
// local registry (packages outside `@cnm` come through it from the configured registry once, and
// are cached for the next run under node_modules/.cache/cnm-registry).
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type BinaryMirror, betterSqliteMirrorFiles, startBinaryMirror } from './binary-mirror.js'
import { clientEnv, configuredRegistry } from './client-env.js'
import { publishTarballs } from './publish-tarballs.js'
import { run, runOk } from './run.js'
import { type Registry, startRegistry } from './start-registry.js'

const SCOPE = '@cnm'
const root = path.resolve(import.meta.dirname, '../../..')
const cache = path.join(root, 'node_modules', '.cache', 'cnm-registry')

interface Manifest {
  name: string
  version: string
  private?: boolean
  dependencies?: Record<string, string>
}

const published: Manifest[] = readdirSync(path.join(root, 'packages'))
  .map((d) => JSON.parse(readFileSync(path.join(root, 'packages', d, 'package.json'), 'utf8')) as Manifest)
  .filter((m) => !m.private)
const versionOf = (name: string): string => published.find((m) => m.name === name)?.version ?? '?'

let tmp: string
let registry: Registry
let mirror: BinaryMirror
let env: NodeJS.ProcessEnv
let publishedSpecs: string[] = []

/** A fresh npm project under the test's directory. */
function project(name: string): string {
  const dir = path.join(tmp, name)
  mkdirSync(dir)
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, private: true, version: '0.0.0' }))
  return dir
}

const npm = (args: string[], cwd: string, e: NodeJS.ProcessEnv = env) =>
  runOk('npm', args, { cwd, env: e, timeoutMs: 240_000 })

beforeAll(async () => {
  for (const m of published) {
    const dir = path.join(root, 'packages', m.name.replace('@cnm/', ''))
    if (!existsSync(path.join(dir, 'dist')) && existsSync(path.join(dir, 'tsconfig.build.json'))) {
      throw new Error(`${m.name} is not built: run pnpm build first`)
    }
  }
  tmp = mkdtempSync(path.join(tmpdir(), 'cnm-release-'))
  const uplink = configuredRegistry()
  registry = await startRegistry({ dir: path.join(tmp, 'registry'), uplink, storage: path.join(cache, 'storage') })
  mirror = await startBinaryMirror(betterSqliteMirrorFiles(path.join(root, 'packages', 'controller'), tmp))
  env = clientEnv({
    npm_config_registry: registry.url,
    npm_config_userconfig: registry.userconfig,
    npm_config_cache: path.join(cache, 'npm'),
    // better-sqlite3's documented way to install without GitHub: a binary host mirror.
    npm_config_better_sqlite3_binary_host: mirror.url,
  })
  // Every published package packed as `pnpm publish -r` (what `pnpm release` runs) packs it, then
  // all published at once.
  const tarballs = path.join(tmp, 'tarballs')
  await runOk('pnpm', ['-r', '--filter', './packages/*', 'pack', '--pack-destination', tarballs], {
    cwd: root,
    env,
    timeoutMs: 240_000,
  })
  const files = readdirSync(tarballs).map((f) => path.join(tarballs, f))
  publishedSpecs = await publishTarballs(files, { registry: registry.url, token: registry.token })
}, 300_000)

afterAll(async () => {
  try {
    await registry?.stop()
  } finally {
    await mirror?.stop()
    if (tmp) rmSync(tmp, { recursive: true, force: true })
  }
}, 60_000)

describe('the release round trip through a local registry', () => {
  it('publishes every package, each tarball with its LICENSE', async () => {
    expect(publishedSpecs.sort()).toEqual(published.map((m) => `${m.name}@${m.version}`).sort())
    for (const m of published) {
      const res = await fetch(new URL(m.name.replace('/', '%2f'), registry.url))
      expect(res.status, m.name).toBe(200)
      const doc = (await res.json()) as { 'dist-tags': { latest: string }; versions: Record<string, unknown> }
      expect(doc['dist-tags'].latest, m.name).toBe(m.version)
    }
    const packs = path.join(tmp, 'inspect')
    mkdirSync(packs)
    const out = await npm(['pack', '--json', '@cnm/netlink', '@cnm/firewall', '@cnm/dns', '@cnm/ip'], packs)
    const files = JSON.parse(out) as { name: string; files: { path: string }[] }[]
    for (const f of files)
      expect(
        f.files.map((x) => x.path),
        f.name,
      ).toContain('LICENSE')
    for (const f of files.filter((x) => x.name !== '@cnm/ip')) {
      expect(
        f.files.map((x) => x.path),
        f.name,
      ).toContain('prebuilds/linux-x64/node.napi.glibc.node')
    }
  })

  it('installs the addons from their packed tarballs and loads them with no compiler on PATH', async () => {
    // The tarballs `pnpm pack` made above; their other dependencies come from the registry.
    const tarballs = ['netlink', 'firewall', 'dns'].map((p) =>
      path.join(tmp, 'tarballs', `cnm-${p}-${versionOf(`@cnm/${p}`)}.tgz`),
    )
    // A PATH with node and sh only: no cc, gcc, g++, make.
    const bin = path.join(tmp, 'bin-without-compiler')
    mkdirSync(bin)
    symlinkSync(process.execPath, path.join(bin, 'node'))
    symlinkSync('/bin/sh', path.join(bin, 'sh'))
    const bare = { ...env, PATH: bin }
    for (const tool of ['cc', 'gcc', 'g++', 'make']) {
      expect(
        (await run(tool, ['--version'], { env: bare }).catch((e: NodeJS.ErrnoException) => e.code)) as unknown,
      ).toBe('ENOENT')
    }
    const dir = project('addons')
    await runOk(process.execPath, [npmCli(), 'install', ...tarballs], { cwd: dir, env: bare, timeoutMs: 240_000 })
    for (const p of ['netlink', 'firewall', 'dns']) {
      expect(existsSync(path.join(dir, 'node_modules', '@cnm', p, 'build')), `${p} built from source`).toBe(false)
    }
    writeFileSync(
      path.join(dir, 'load.mjs'),
      [
        "import { createRequire } from 'node:module'",
        // (what a user's code would write; the packages come from the fresh project, not the workspace)
        `import { loadAddon } from ${JSON.stringify(`${SCOPE}/netlink`)}`,
        'const require = createRequire(import.meta.url)',
        "const gyp = require('node-gyp-build')",
        "const dirOf = (p) => require.resolve(p + '/package.json').slice(0, -'/package.json'.length)",
        'const netns = loadAddon()',
        "const nft = gyp(dirOf('@cnm/firewall'))",
        // The DNS server's UDP loop: a socket bound and its thread started, then stopped.
        "const udp = gyp(dirOf('@cnm/dns'))",
        "const [loop, port] = udp.open('127.0.0.1', 4, 0, () => {}, 19, Buffer.alloc(0))",
        'udp.close(loop)',
        'console.log(JSON.stringify({',
        "  netlink: gyp.path(dirOf('@cnm/netlink')), firewall: gyp.path(dirOf('@cnm/firewall')),",
        "  dns: gyp.path(dirOf('@cnm/dns')), udpPort: port,",
        '  unshare0: netns.unshare(0), nft: typeof nft.available,',
        '}))',
      ].join('\n'),
    )
    const loaded = JSON.parse(await runOk(process.execPath, ['load.mjs'], { cwd: dir, env: bare })) as Record<
      string,
      unknown
    >
    expect(loaded.netlink).toMatch(/node_modules\/@cnm\/netlink\/prebuilds\/linux-x64\/node\.napi\.glibc\.node$/)
    expect(loaded.firewall).toMatch(/node_modules\/@cnm\/firewall\/prebuilds\/linux-x64\/node\.napi\.glibc\.node$/)
    expect(loaded.dns).toMatch(/node_modules\/@cnm\/dns\/prebuilds\/linux-x64\/node\.napi\.glibc\.node$/)
    expect(loaded.udpPort).toBeGreaterThan(0)
    expect(loaded.unshare0).toBe(0)
    expect(loaded.nft).toBe('function')
  }, 300_000)

  it('npm install @cnm/portallocator pulls nothing but @cnm/ip', async () => {
    const dir = project('portallocator-only')
    await npm(['install', '@cnm/portallocator'], dir)
    const lock = JSON.parse(readFileSync(path.join(dir, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string }>
    }
    const installed = Object.keys(lock.packages).filter((k) => k !== '')
    expect(installed.sort()).toEqual(['node_modules/@cnm/ip', 'node_modules/@cnm/portallocator'])
    expect(readdirSync(path.join(dir, 'node_modules')).sort()).toEqual(['.package-lock.json', '@cnm'])
    expect(readdirSync(path.join(dir, 'node_modules', '@cnm')).sort()).toEqual(['ip', 'portallocator'])
    const out = await runOk(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { PortAllocator } from ${JSON.stringify(`${SCOPE}/portallocator`)}; console.log(typeof PortAllocator)`,
      ],
      { cwd: dir, env },
    )
    expect(out.trim()).toBe('function')
  }, 300_000)

  it('npm install @cnm/cli gives a working cnm', async () => {
    const dir = project('cli')
    await npm(['install', '@cnm/cli'], dir)
    const cnm = path.join(dir, 'node_modules', '.bin', 'cnm')
    expect((await runOk(cnm, ['--version'], { cwd: dir, env })).trim()).toBe(versionOf('@cnm/cli'))
    // better-sqlite3 came from the binary mirror, not from GitHub and not compiled.
    expect(mirror.requests.some((r) => r.includes('better-sqlite3'))).toBe(true)
    // The addons came prebuilt in their tarballs (none was compiled here, compiler or not).
    for (const p of ['netlink', 'firewall', 'dns']) {
      expect(existsSync(path.join(dir, 'node_modules', '@cnm', p, 'build')), `${p} built from source`).toBe(false)
    }
    const store = path.join(tmp, 'cli-store', 'cnm.db')
    mkdirSync(path.dirname(store))
    const ls = await runOk(cnm, ['--store', store, 'network', 'ls'], { cwd: dir, env })
    expect(ls).toMatch(/^NETWORK ID\s+NAME\s+DRIVER/)
    expect(existsSync(store)).toBe(true)
    if (process.getuid?.() === 0) {
      // The whole stack from the registry: a bridge, two sandboxes, a published port, real traffic,
      // all in a throwaway namespace (the demo makes and removes it).
      const demo = await runOk(cnm, ['demo'], { cwd: dir, env, timeoutMs: 180_000 })
      expect(demo).toMatch(/(\d+)\/\1 checks passed/)
    }
  }, 400_000)
})

/** npm's own CLI script, run with this Node (the compiler-free PATH has no `npm`). */
function npmCli(): string {
  const prefix = path.resolve(path.dirname(process.execPath), '..')
  return path.join(prefix, 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')
}
