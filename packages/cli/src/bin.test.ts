import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, fails, ok } from './test/cnm.js'
import { cliVersion } from './version.js'

const COMMANDS = [
  [],
  ['network'],
  ['network', 'create'],
  ['network', 'ls'],
  ['network', 'inspect'],
  ['network', 'rm'],
  ['sandbox'],
  ['sandbox', 'create'],
  ['sandbox', 'ls'],
  ['sandbox', 'inspect'],
  ['sandbox', 'rm'],
  ['endpoint'],
  ['endpoint', 'create'],
  ['endpoint', 'ls'],
  ['endpoint', 'inspect'],
  ['endpoint', 'rm'],
  ['connect'],
  ['disconnect'],
  ['port'],
  ['port', 'ls'],
  ['reconcile'],
  ['serve'],
  ['exec'],
  ['demo'],
]

describe('the cnm binary (no kernel)', () => {
  let tmp: string
  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-bin-'))
  })
  afterAll(() => rmSync(tmp, { recursive: true, force: true }))

  it('prints its version', () => {
    expect(ok(['--version']).trim()).toBe(cliVersion())
  })

  it('runs its bundle from the code cache the build made (V8 takes it: no compile at start-up)', () => {
    // The launcher exports the script it compiled; a preload reads it once the command is done.
    const preload = path.join(tmp, 'cache-check.cjs')
    writeFileSync(
      preload,
      "process.on('exit', () => process.stdout.write('rejected=' + process.mainModule.exports.cachedDataRejected + '\\n'))\n",
    )
    const res = spawnSync(process.execPath, ['-r', preload, BIN, '--version'], { encoding: 'utf8' })
    expect(res.stderr).toBe('')
    expect(res.stdout).toBe(`${cliVersion()}\nrejected=false\n`)
  })

  it('takes the code cache only for the exact bundle it was made from (a same-length edit runs as edited)', () => {
    // A copy of the installed layout, its bundle edited in place to the same length: V8 alone
    // would take the cache (it checks the length) and run the old code it holds.
    const dist = path.dirname(BIN)
    const copy = path.join(tmp, 'edited')
    mkdirSync(path.join(copy, 'dist'), { recursive: true })
    copyFileSync(path.join(dist, '..', 'package.json'), path.join(copy, 'package.json'))
    for (const f of ['cnm.cjs', 'cnm-main.cache']) copyFileSync(path.join(dist, f), path.join(copy, 'dist', f))
    const bundle = readFileSync(path.join(dist, 'cnm-main.cjs'), 'utf8')
    const was = 'manage endpoints (a network interface'
    expect(bundle).toContain(was)
    writeFileSync(path.join(copy, 'dist', 'cnm-main.cjs'), bundle.replace(was, was.toUpperCase()))
    const preload = path.join(tmp, 'cache-given.cjs')
    writeFileSync(
      preload,
      "process.on('exit', () => process.stderr.write('rejected=' + process.mainModule.exports.cachedDataRejected + '\\n'))\n",
    )
    const res = spawnSync(process.execPath, ['-r', preload, path.join(copy, 'dist', 'cnm.cjs'), '--help'], {
      encoding: 'utf8',
    })
    expect(res.stdout).toContain(was.toUpperCase())
    expect(res.stderr).toBe('rejected=undefined\n') // no cache given to V8 at all
  })

  it('starts without loading what only some commands use (child_process, readline, os, crypto)', () => {
    // process.moduleLoadList names every builtin loaded so far; a preload prints it at exit.
    const preload = path.join(tmp, 'loaded.cjs')
    writeFileSync(
      preload,
      "process.on('exit', () => process.stderr.write(process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).join('\\n') + '\\n'))\n",
    )
    const res = spawnSync(process.execPath, ['-r', preload, BIN, 'network', 'ls', '--help'], { encoding: 'utf8' })
    expect(res.status).toBe(0)
    const loaded = res.stderr.split('\n')
    expect(loaded).toContain('NativeModule net') // the client's own
    for (const m of ['child_process', 'readline', 'os', 'crypto']) expect(loaded).not.toContain(`NativeModule ${m}`)
    // Loaded when a command needs it: `network prune` asks through readline (no answer: no).
    const store = path.join(tmp, 'prune-never.db')
    const asked = spawnSync(process.execPath, [BIN, '--store', store, 'network', 'prune'], {
      encoding: 'utf8',
      input: 'n\n',
    })
    expect(asked.status).toBe(0)
    expect(asked.stdout).toContain('Are you sure you want to continue? [y/N]')
    expect(existsSync(store)).toBe(false)
  })

  it('carries the version it was built with (no package.json read at start)', () => {
    expect(readFileSync(BIN.replace(/cnm\.cjs$/u, 'cnm-main.cjs'), 'utf8')).toContain(
      `function cliVersion() {\n\treturn ${JSON.stringify(cliVersion())};`,
    )
  })

  it.each(COMMANDS.map((c) => [c.join(' ') || '(cnm)', c]))('%s --help', (_name, words) => {
    const out = ok([...words, '--help'])
    expect(out).toContain(`Usage: cnm${words.length ? ` ${words.join(' ')}` : ''}`)
    expect(out).toContain('-h, --help')
  })

  it('lists every verb in the top-level help, with the global options', () => {
    const out = ok(['--help'])
    for (const verb of [
      'network',
      'sandbox',
      'endpoint',
      'connect',
      'disconnect',
      'port',
      'reconcile',
      'serve',
      'exec',
      'demo',
    ]) {
      expect(out).toMatch(new RegExp(`^  ${verb}\\b`, 'mu'))
    }
    expect(out).toContain('--store <path>')
    expect(out).toContain('env: CNM_STORE')
    expect(out).toContain('--sandbox-dir <dir>')
  })

  it('refuses usage errors with one line naming them, exit 2', () => {
    expect(fails(['frobnicate'], 'ERR_UNKNOWN_COMMAND', 2)).toBe(
      "cnm: unknown command 'frobnicate' (ERR_UNKNOWN_COMMAND)\n",
    )
    expect(fails(['netwrk'], 'ERR_UNKNOWN_COMMAND', 2)).toContain('did you mean network?')
    fails(['network', 'ls', '--bogus'], 'ERR_UNKNOWN_OPTION', 2)
    fails(['network', 'create'], 'ERR_MISSING_ARGUMENT', 2)
    fails(['network', 'create', 'a', 'b'], 'ERR_TOO_MANY_ARGUMENTS', 2)
    fails(['network', 'create', 'a', '--subnet'], 'ERR_MISSING_ARGUMENT', 2)
  })

  it('validates input before the store or the kernel is touched', () => {
    const store = path.join(tmp, 'never.db')
    const g = ['--store', store, '--sandbox-dir', path.join(tmp, 'sb')]
    const cases: [string[], string, string][] = [
      [['network', 'create', 'n', '--subnet', '10.1.2.3/16'], 'ERR_INVALID_ARGUMENT', 'it should be 10.1.0.0/16'],
      [['network', 'create', 'n', '--icc=maybe'], 'ERR_INVALID_ARGUMENT', '--icc "maybe" must be true or false'],
      [['network', 'create', 'n', '--mtu', '9999999'], 'ERR_INVALID_ARGUMENT', '--mtu'],
      [['network', 'create', 'n', '-o', 'nokey'], 'ERR_INVALID_ARGUMENT', 'must be key=value'],
      [['endpoint', 'create', 'n', 'e', '-p', '70000:80'], 'ERR_INVALID_PUBLISH_SPEC', 'host port 70000'],
      [['connect', 'n', 's', '-p', '8080:80/icmp'], 'ERR_INVALID_PUBLISH_SPEC', 'protocol "icmp"'],
      [['connect', 'n', 's', '--ip', 'fd00::1'], 'ERR_INVALID_ARGUMENT', 'not an IPv4 address'],
      [['serve', '--listen', 'localhost:80'], 'ERR_INVALID_ARGUMENT', 'must be IP:PORT'],
      [['demo', '--port', '0'], 'ERR_INVALID_ARGUMENT', '--port "0"'],
    ]
    for (const [args, code, text] of cases) expect(fails([...g, ...args], code)).toContain(text)
    expect(existsSync(store)).toBe(false)
  })
})
