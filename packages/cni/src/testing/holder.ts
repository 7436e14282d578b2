import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'

/** What a program run inside a holder's namespaces printed. */
export interface Out {
  status: number
  stdout: string
  stderr: string
}

/** A process (`unshare … sleep`) holding throwaway namespaces, and programs run inside them. */
export interface NamespaceHolder {
  readonly pid: number
  /** `/proc/<pid>/ns/net`. */
  readonly netnsPath: string
  /** Runs `cmd` inside the holder's namespaces (`nsenter`), with only PATH and `env` in its environment. */
  run(cmd: string, args: string[], env?: Record<string, string>, timeout?: number): Out
  /** {@link run}, throwing unless it exits 0; returns its stdout. */
  must(cmd: string, args: string[], env?: Record<string, string>): string
  /** Kills the holder: its namespaces go once nothing else pins them. */
  stop(): void
}

async function waitFor(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/**
 * Starts a holder of a new network namespace (and with `mount`, a private mount namespace too),
 * ready once `unshare` has made them and exec'd `sleep` (polled, never slept on).
 */
export async function startNamespaceHolder(options: { mount?: boolean } = {}): Promise<NamespaceHolder> {
  const flags = options.mount ? ['--net', '--mount', '--propagation', 'private'] : ['--net']
  const child: ChildProcess = spawn('unshare', [...flags, 'sleep', 'infinity'], { stdio: 'ignore' })
  const pid = child.pid
  if (pid === undefined) throw new Error('unshare did not start')
  const own = spawnSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).stdout
  try {
    await waitFor(
      'the namespace holder',
      () => {
        const ns = spawnSync('readlink', [`/proc/${pid}/ns/net`], { encoding: 'utf8' })
        const exe = spawnSync('readlink', [`/proc/${pid}/exe`], { encoding: 'utf8' }).stdout
        return ns.status === 0 && ns.stdout !== own && exe.includes('sleep')
      },
      30_000,
    )
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
  const enter = options.mount ? ['-n', '-m'] : ['-n']
  const run = (cmd: string, args: string[], env: Record<string, string> = {}, timeout = 120_000): Out => {
    const r = spawnSync('nsenter', ['-t', String(pid), ...enter, '--', cmd, ...args], {
      encoding: 'utf8',
      timeout,
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
    })
    if (r.error) throw r.error
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
  }
  return {
    pid,
    netnsPath: `/proc/${pid}/ns/net`,
    run,
    must(cmd, args, env = {}) {
      const r = run(cmd, args, env)
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`)
      return r.stdout
    },
    stop: () => child.kill('SIGKILL'),
  }
}

/**
 * A root filesystem tar for `podman import` / `docker import`, made offline: busybox-static with
 * `applets` linked to it, and `files` (path → content) beside them.
 */
export function busyboxRootfsTar(dir: string, applets: string[], files: Record<string, string> = {}): string {
  const rootfs = path.join(dir, 'rootfs')
  mkdirSync(path.join(rootfs, 'bin'), { recursive: true })
  copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'))
  for (const applet of applets) symlinkSync('busybox', path.join(rootfs, 'bin', applet))
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(rootfs, file)), { recursive: true })
    writeFileSync(path.join(rootfs, file), content)
  }
  const tar = path.join(dir, 'rootfs.tar')
  const r = spawnSync('tar', ['-C', rootfs, '-cf', tar, '.'])
  if (r.status !== 0) throw new Error(`tar exited ${r.status}: ${r.stderr}`)
  return tar
}
