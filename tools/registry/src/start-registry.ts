import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { freePort } from './free-port.js'
import { verdaccioConfig } from './verdaccio-config.js'

export interface StartRegistryOptions {
  /** A directory this registry owns (created; must not exist yet): config, account, npmrc. */
  dir: string
  /**
   * Where packages from the uplink are kept, so the next run needs no network (default: under
   * `dir`). What is published under `@cnm` goes to a sub-directory of its own, removed by `stop`.
   */
  storage?: string
  /** The registry packages outside `@cnm` come from (e.g. `npm config get registry`). */
  uplink?: string
  /** How long to wait for the registry to answer. Default: 60 s. */
  readyTimeoutMs?: number
}

/** A running Verdaccio on 127.0.0.1 and a publisher's account on it. */
export interface Registry {
  /** `http://127.0.0.1:<port>/` */
  url: string
  /** An npmrc with the registry and the publisher's token (`npm_config_userconfig`). */
  userconfig: string
  /** The publisher's token. */
  token: string
  /** Verdaccio's storage directory. */
  storage: string
  /** Stops Verdaccio (SIGTERM, then SIGKILL after 10 s) and removes what was published to it. */
  stop(): Promise<void>
}

function verdaccioBin(): string {
  const require = createRequire(import.meta.url)
  return path.join(path.dirname(require.resolve('verdaccio/package.json')), 'bin', 'verdaccio')
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
}

async function waitReady(url: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited with status ${child.exitCode}:\n${output()}`)
    try {
      const res = await fetch(new URL('-/ping', url), { signal: AbortSignal.timeout(2000) })
      if (res.ok) return
    } catch {}
    if (Date.now() > deadline)
      throw new Error(`verdaccio did not answer on ${url} within ${timeoutMs} ms:\n${output()}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

async function addUser(url: string): Promise<string> {
  const name = 'cnm-release'
  const res = await fetch(new URL(`-/user/org.couchdb.user:${name}`, url), {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password: randomBytes(18).toString('base64url') }),
  })
  const body = (await res.json()) as { token?: string; error?: string }
  if (!res.ok || !body.token)
    throw new Error(`verdaccio refused the publisher's account: ${res.status} ${body.error ?? ''}`)
  return body.token
}

/**
 * Starts Verdaccio (the pinned `verdaccio` of this package, on this Node) on a free loopback port
 * with its own storage under `dir`, waits until it answers, and makes a publisher's account.
 */
export async function startRegistry(options: StartRegistryOptions): Promise<Registry> {
  const { dir, uplink, readyTimeoutMs = 60_000 } = options
  mkdirSync(dir)
  const storage = options.storage ?? path.join(dir, 'storage')
  mkdirSync(storage, { recursive: true })
  const published = `published-${path.basename(dir)}-${randomBytes(4).toString('hex')}`
  mkdirSync(path.join(storage, published))
  const config = path.join(dir, 'config.yaml')
  const text = verdaccioConfig({ storage, published, htpasswd: path.join(dir, 'htpasswd'), uplink })
  writeFileSync(config, text, { flag: 'wx' })
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/`
  const child = spawn(process.execPath, [verdaccioBin(), '--config', config, '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // The test command runs the tests without NODE_EXTRA_CA_CERTS (each Node start would read it)
    // and keeps it in CNM_EXTRA_CA_CERTS: Verdaccio is what talks TLS, to its uplink.
    env: {
      ...process.env,
      ...(process.env.CNM_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.CNM_EXTRA_CA_CERTS } : {}),
      NODE_ENV: 'production',
    },
  })
  let log = ''
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-8000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited(child)
    clearTimeout(timer)
    rmSync(path.join(storage, published), { recursive: true, force: true })
  }
  try {
    await waitReady(url, child, () => log, readyTimeoutMs)
    const token = await addUser(url)
    const userconfig = path.join(dir, 'npmrc')
    writeFileSync(userconfig, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`, {
      flag: 'wx',
      mode: 0o600,
    })
    return { url, userconfig, token, storage, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
