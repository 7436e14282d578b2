import { spawnSync } from 'node:child_process'
import { closeSync, openSync, readdirSync, readSync } from 'node:fs'
import path from 'node:path'
import { type CniTestState, createCniTestState } from '@cnm/cni/testing'
import { createNetns, deleteNetns } from '@cnm/netlink'
import { describeKernel, ipJson, run, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { okJSON, type Started, start, stop } from './test/cnm.js'

/** The first bytes of a file (to tell the native forwarder, an ELF, from a script). */
function magic(file: string): string {
  const fd = openSync(file, 'r')
  const buf = Buffer.alloc(4)
  readSync(fd, buf, 0, 4, 0)
  closeSync(fd)
  return buf.toString('latin1')
}

describeKernel('the CNI fast path: the installed `cnm` plugin forwards to the daemon (POST /v1/cni)', () => {
  const host = useHostNetns()
  let state: CniTestState
  let store: string
  let sandboxDir: string
  let socketPath: string
  let binDir: string
  let cniDir: string
  const daemons: Started[] = []
  const namespaces: string[] = []
  const g = (...args: string[]): string[] => ['--store', store, '--sandbox-dir', sandboxDir, ...args]
  const conf = {
    cniVersion: '1.0.0',
    name: 'fastnet',
    type: 'cnm',
    subnet: '10.214.0.0/24',
    runtimeConfig: { portMappings: [{ hostPort: 18180, containerPort: 80, protocol: 'tcp' }] },
  }
  /** The plugin as a runtime runs it: CNI_* (and only the daemon's address) in its environment. */
  const plugin = (command: string, netns: string, extra: Record<string, string> = {}) => {
    const r = spawnSync(path.join(binDir, 'cnm'), [], {
      input: JSON.stringify(conf),
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: 'fast1',
        CNI_NETNS: netns,
        CNI_IFNAME: 'eth0',
        CNI_PATH: binDir,
        CNM_HOST: `unix://${socketPath}`,
        ...extra,
      },
    })
    return { status: r.status, stdout: r.stdout, json: r.stdout.trim() ? JSON.parse(r.stdout) : undefined }
  }
  const holder = (port: number): string => run('ss', ['-Hltnp', `sport = :${port}`]).stdout

  beforeAll(() => {
    state = createCniTestState('cnm-cni-fast-')
    ;({ store, sandboxDir, cniDir } = state)
    socketPath = path.join(state.tmp, 'cnm.sock')
    binDir = path.join(state.tmp, 'bin')
  })
  afterEach(async () => {
    for (const d of daemons.splice(0)) await stop(d.child, 'SIGKILL')
    for (const p of namespaces.splice(0)) deleteNetns(p)
  }, 120_000)
  afterAll(() => state.cleanup(), 120_000)

  it('`cnm cni install` puts the native forwarder; ADD and DEL go through the daemon, which holds no port with a socket (CNI leaves that to the runtime); with no daemon the plugin works in process', async () => {
    const report = okJSON<{ plugin: string; native: boolean; fallback: string }>([
      'cni',
      'install',
      '--bin-dir',
      binDir,
      '--json',
    ])
    expect(report).toEqual({
      plugin: path.join(binDir, 'cnm'),
      native: true,
      fallback: path.join(binDir, '.cnm-cni-node'),
    })
    expect(magic(report.plugin)).toBe('\x7fELF')
    expect(magic(report.fallback).slice(0, 2)).toBe('#!')
    const d = await start(g('serve', '--socket', socketPath, '--log-level', 'warn'), 1, { CNM_CNI_DIR: cniDir })
    daemons.push(d)
    const ns = host.netnsPath('fast')
    await createNetns(ns)
    namespaces.push(ns)

    const version = plugin('VERSION', ns)
    expect(version.json).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.3.1', '0.4.0', '1.0.0', '1.1.0'] })
    const add = plugin('ADD', ns)
    expect(add.status, add.stdout).toBe(0)
    expect(add.json.interfaces[2]).toEqual({ name: 'eth0', mac: expect.any(String), sandbox: ns })
    expect(add.json.ips[0]).toEqual({
      address: expect.stringMatching(/^10\.214\.0\.\d+\/24$/u),
      gateway: '10.214.0.1',
      interface: 2,
    })
    // The daemon did it: it bound the namespace in its directory. It holds no published port with a
    // socket (CNI leaves reservation to the runtime), but DNAT is there.
    expect(readdirSync(cniDir)).toHaveLength(1)
    expect(holder(18180)).toBe('')
    expect(run('nft', ['list', 'ruleset']).stdout).toContain('18180')
    const lo = ipJson<{ ifname: string; operstate: string }[]>(['link', 'show', 'lo'], { netns: ns })[0]
    expect(lo?.operstate).toBe('UNKNOWN') // up, as the loopback plugin leaves it
    const failed = plugin('ADD', ns)
    expect(failed.status).toBe(1)
    expect(failed.json).toMatchObject({ code: 100, details: 'ERR_CNI_ATTACHMENT_EXISTS (conflict)' })
    const del = plugin('DEL', ns)
    expect(del).toMatchObject({ status: 0, stdout: '' })
    expect(holder(18180)).toBe('')
    expect(readdirSync(cniDir)).toEqual([])
    expect(ipJson<{ ifname: string }[]>(['link', 'show'], { netns: ns }).map((l) => l.ifname)).toEqual(['lo'])

    // No daemon: the forwarder execs the Node executable beside it, which works on the store.
    await stop(d.child, 'SIGTERM')
    daemons.splice(0)
    const local = { CNM_STORE: store, CNM_SANDBOX_DIR: sandboxDir, CNM_CNI_DIR: cniDir }
    const inProcess = plugin('ADD', ns, local)
    expect(inProcess.status, inProcess.stdout).toBe(0)
    expect(inProcess.json.ips[0].address).toMatch(/^10\.214\.0\.\d+\/24$/u)
    expect(plugin('DEL', ns, local)).toMatchObject({ status: 0, stdout: '' })
    expect(ipJson<{ ifname: string }[]>(['link', 'show'], { netns: ns }).map((l) => l.ifname)).toEqual(['lo'])
    expect(readdirSync(cniDir)).toEqual([])
  }, 300_000)
})
