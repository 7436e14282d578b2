import { type FSWatcher, watch } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { tryParseAddress } from '@cnm/ip'
import { invalidConfig } from './errors.js'
import { parseResolvConf, type ResolvConf } from './resolv-conf.js'

/** One upstream resolver. */
export interface Upstream {
  readonly address: string
  readonly family: 4 | 6
  readonly port: number
}

/** How often, at most, a forwarded query makes the source look at the file's mtime again. */
const RECHECK_MS = 1000

/**
 * Parses `10.0.0.53`, `10.0.0.53:5353`, `2001:db8::53`, `[2001:db8::53]:5353` (port 53 by
 * default); throws `ERR_INVALID_DNS_CONFIG` for anything else.
 */
export function parseUpstream(text: string): Upstream {
  const bracket = text.match(/^\[([^\]]+)\](?::(\d+))?$/u)
  const v4port = text.match(/^([\d.]+):(\d+)$/u)
  const [host, port] = bracket ? [bracket[1], bracket[2]] : v4port ? [v4port[1], v4port[2]] : [text, undefined]
  const a = tryParseAddress(host)
  const p = port === undefined ? 53 : Number(port)
  if (!a || !Number.isInteger(p) || p < 1 || p > 65535) {
    throw invalidConfig(`upstream resolver ${JSON.stringify(text)}: expected an address, address:port or [v6]:port`)
  }
  return { address: a.text, family: a.family, port: p }
}

/**
 * The resolvers queries are forwarded to: a fixed list, or the `nameserver` lines of a
 * resolv.conf that is followed when it changes (an `fs.watch` on its directory, which also sees
 * the file replaced by a rename, plus an mtime check at most once a second while queries are
 * forwarded, for file systems that do not report changes). A missing or empty file means no
 * upstream: forwarded queries get SERVFAIL until it has one. The server's own addresses are
 * never used as upstreams (a loop).
 */
export class UpstreamSource {
  readonly #file: string | undefined
  readonly #self: Set<string>
  #list: readonly Upstream[] = []
  #hostConf: ResolvConf | undefined
  #watcher: FSWatcher | undefined
  #lastCheck = 0
  #signature = ''
  #reading: Promise<void> | undefined
  #closed = false

  private constructor(file: string | undefined, fixed: readonly Upstream[], self: Set<string>) {
    this.#file = file
    this.#self = self
    this.#list = fixed
  }

  /** A source reading `resolvConf` (loaded before this resolves), or the fixed `upstreams`. */
  static async open(options: {
    resolvConf?: string | undefined
    upstreams?: readonly string[] | undefined
    self: readonly { address: string; port: number }[]
  }): Promise<UpstreamSource> {
    const self = new Set(options.self.map((s) => `${s.address}#${s.port}`))
    if (options.upstreams !== undefined) {
      const fixed = options.upstreams.map(parseUpstream).filter((u) => !self.has(`${u.address}#${u.port}`))
      return new UpstreamSource(undefined, fixed, self)
    }
    const file = path.resolve(options.resolvConf ?? '/etc/resolv.conf')
    const source = new UpstreamSource(file, [], self)
    await source.reload()
    source.#watch()
    return source
  }

  /** The resolv.conf followed, if any. */
  get file(): string | undefined {
    return this.#file
  }

  /** The followed resolv.conf as last read (its search list and options go to sandboxes). */
  get hostConf(): ResolvConf | undefined {
    return this.#hostConf
  }

  /** The upstreams now; at most once a second also starts a check of the file in the background. */
  current(): readonly Upstream[] {
    if (this.#file !== undefined && Date.now() - this.#lastCheck > RECHECK_MS) void this.#checkMtime()
    return this.#list
  }

  /** Reads the file again now. */
  reload(): Promise<void> {
    if (this.#file === undefined || this.#closed) return Promise.resolve()
    this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined
    })
    return this.#reading
  }

  /** Stops watching the resolv.conf file; the list read last stays as it is. Idempotent. */
  close(): void {
    this.#closed = true
    this.#watcher?.close()
    this.#watcher = undefined
  }

  async #read(): Promise<void> {
    const file = this.#file as string
    this.#lastCheck = Date.now()
    let text = ''
    try {
      const [st, content] = await Promise.all([stat(file), readFile(file, 'utf8')])
      this.#signature = signature(st)
      text = content
    } catch {
      this.#signature = 'missing'
    }
    const conf = parseResolvConf(text)
    const list: Upstream[] = []
    for (const ns of conf.nameservers) {
      if (ns.includes('%')) continue // a link-local server needs its zone: not reachable from a socket bound elsewhere
      const u = parseUpstream(ns)
      if (!this.#self.has(`${u.address}#${u.port}`)) list.push(u)
    }
    this.#list = list
    this.#hostConf = conf
  }

  async #checkMtime(): Promise<void> {
    this.#lastCheck = Date.now()
    let sig = 'missing'
    try {
      sig = signature(await stat(this.#file as string))
    } catch {}
    if (sig !== this.#signature) await this.reload()
  }

  #watch(): void {
    const file = this.#file as string
    try {
      this.#watcher = watch(path.dirname(file), { persistent: false }, (_event, name) => {
        if (name === null || name === path.basename(file)) void this.reload()
      })
      this.#watcher.on('error', () => {
        this.#watcher?.close()
        this.#watcher = undefined
      })
    } catch {
      // No inotify here (or no directory): the mtime check alone follows the file.
    }
  }
}

function signature(st: { mtimeMs: number; ino: number; size: number }): string {
  return `${st.mtimeMs}:${st.ino}:${st.size}`
}
