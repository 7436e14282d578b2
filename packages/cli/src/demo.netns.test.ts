import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { boundNetnsPaths, describeKernel, ipJson, run, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { BIN, ok, okJSON } from './test/cnm.js'

const CHECKS = [
  /^ {2}ok {4}ping {2}client -> web 172\.\d+\.\d+\.\d+ /mu,
  /^ {2}ok {4}ping {2}web -> client /mu,
  /^ {2}ok {4}http {2}client -> web http:\/\/\S+ +[\d.]+ ms {3}hello from web \(you are /mu,
  /^ {2}ok {4}http {2}web -> client http:\/\/\S+ +[\d.]+ ms {3}hello from client /mu,
  /^ {2}ok {4}http {2}host -> http:\/\/198\.51\.100\.1:\d+\/ \(host address\) +[\d.]+ ms {3}hello from web /mu,
  /^ {2}ok {4}http {2}host -> http:\/\/127\.0\.0\.1:\d+\/ \(localhost\) +[\d.]+ ms {3}hello from web /mu,
  /^ {2}ok {4}http {2}client -> http:\/\/198\.51\.100\.1:\d+\/ +[\d.]+ ms {3}hello from web /mu,
  /^ {2}ok {4}http {2}web -> http:\/\/198\.51\.100\.1:\d+\/ \(hairpin\) +[\d.]+ ms {3}hello from web /mu,
]

const links = (): string[] => ipJson<{ ifname: string }[]>(['link', 'show']).map((l) => l.ifname)

describeKernel('cnm demo (kernel, the real binary)', () => {
  const host = useHostNetns()
  let tmp: string
  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-demo-'))
  })
  afterAll(() => rmSync(tmp, { recursive: true, force: true }))

  it('runs in a throwaway namespace of its own, passes every check, and leaves nothing behind', () => {
    const ruleset = run('nft', ['list', 'ruleset']).stdout
    const res = spawnSync(process.execPath, [BIN, 'demo'], { encoding: 'utf8', timeout: 60_000 })
    expect(res.stderr).toBe('')
    expect(res.status).toBe(0)
    for (const check of CHECKS) expect(res.stdout).toMatch(check)
    expect(res.stdout).not.toContain('FAIL')
    expect(res.stdout).toContain('a throwaway network namespace playing the host')
    expect(res.stdout).toMatch(/^ {2}\[br-[0-9a-f]{12}\] 172\.\d+\.\d+\.1\/16 {3}network demo$/mu) // the picture
    expect(res.stdout).toMatch(/^ {4}published: 0\.0\.0\.0:\d+ -> 172\.\d+\.\d+\.\d+:80\/tcp$/mu)
    expect(res.stdout).toMatch(/^ {2}delete network demo \(bridge, firewall rules\) +[\d.]+ ms$/mu)
    expect(res.stdout.trimEnd().endsWith('8/8 checks passed')).toBe(true)
    // Nothing changed here, and its directory (with the sandboxes' mounts) is gone.
    expect(links()).toEqual(['lo'])
    expect(run('nft', ['list', 'ruleset']).stdout).toBe(ruleset)
    expect(existsSync(`/run/cnm-demo-${res.pid}`)).toBe(false)
    expect(boundNetnsPaths().filter((p) => p.startsWith(`/run/cnm-demo-${res.pid}/`))).toEqual([])
  })

  it('--in-place runs in the current namespace, on the store given, and removes what it made', () => {
    const g = ['--store', path.join(tmp, 'cnm.db'), '--sandbox-dir', path.join(host.dir, 'sb')]
    const out = ok([...g, 'demo', '--in-place', '--port', '18090'])
    expect(out).toContain('host: this machine (--in-place)')
    expect(out).toMatch(/^ {4}published: 0\.0\.0\.0:18090 -> /mu)
    expect(out.match(/^ {2}ok {4}(ping|http) /gmu)).toHaveLength(8)
    expect(out).toMatch(/^ {2}ok {4}http {2}host -> http:\/\/198\.51\.100\.1:18090\/ \(host address\) /mu)
    expect(out).toMatch(/^ {2}ok {4}http {2}host -> http:\/\/127\.0\.0\.1:18090\/ \(localhost\) /mu)
    expect(out).toMatch(/^ {2}ok {4}http {2}web-\d+ -> http:\/\/198\.51\.100\.1:18090\/ \(hairpin\) /mu)
    expect(out.trimEnd().endsWith('8/8 checks passed')).toBe(true)
    expect(links()).toEqual(['lo'])
    expect(run('nft', ['list', 'ruleset']).stdout).toBe('') // no table left behind, not even an empty one
    expect(okJSON([...g, 'network', 'ls', '--json'])).toEqual([])
    expect(okJSON([...g, 'sandbox', 'ls', '--json'])).toEqual([])
    expect(readdirSync(path.join(host.dir, 'sb'))).toEqual([])
    rmSync(path.join(host.dir, 'sb'), { recursive: true })
  })
})
