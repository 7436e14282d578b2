import { readFileSync } from 'node:fs'
import type { ControllerChange, JoinedEndpoint, NetworkController, Sandbox } from '@cnm/controller'
import {
  createDnsServer,
  createDnsServerThread,
  type DnsServer,
  type DnsServerThread,
  holdUdpLoops,
  parseResolvConf,
  type ResolvConf,
  renderHosts,
  renderResolvConf,
  sandboxResolvConf,
  tryNormalizeName,
} from '@cnm/dns'
import { isLoopback, tryParseAddress } from '@cnm/ip'
import { DNS_DOMAIN, type DnsPlan, dnsEntryOf, dnsPlanOf } from './dns-plan.js'
import { createResolverFiles, type ResolverFiles } from './resolver-files.js'
import { scopedEntries } from './scoped-entries.js'

/** A sandbox's resolver configuration (what `GET /v1/sandboxes/{sandbox}/resolver` answers). */
export interface SandboxResolver {
  sandbox: string
  dns: boolean
  nameservers: string[]
  search: string[]
  options: string[]
  resolvConf: string
  hosts: string
  files?: { resolvConf: string; hosts: string }
}

/** Options of {@link createDnsService}. */
export interface DnsServiceOptions {
  controller: NetworkController
  /** Where each sandbox's resolv.conf and hosts are written (a directory cnm owns). */
  resolverDir: string
  /** Run each network's server on a worker thread of its own (default: on the daemon's event loop). */
  thread?: boolean
  /** The host's resolv.conf: upstreams (followed) and the options sandboxes inherit. */
  hostResolvConf?: string
  /** Port of the servers (53; tests may pick another). */
  port?: number
  /** Where problems are reported (a server that cannot start: its network has no DNS). */
  warn?: (message: string) => void
}

type Server = DnsServer | DnsServerThread

interface Running {
  plan: DnsPlan
  server: Promise<Server | undefined>
}

/** The daemon's DNS: a server per network that wants one, its names kept in step with the controller. */
export interface DnsService {
  /** Resolves once every change so far is visible to queries (servers started, names applied). */
  settle(): Promise<void>
  /** A sandbox's resolver configuration; its files are (re)written first. */
  resolver(sandbox: Sandbox): SandboxResolver
  /** The networks (ids) with a running server, and where they listen. */
  servers(): { networkId: string; addresses: string[] }[]
  /**
   * Holds every server's native UDP loop until the returned release is called (at most
   * `HOLD_MAX_MS` of `@cnm/dns`; a no-op with no server running or `CNM_DNS_HOLD=0`).
   */
  hold(): () => void
  close(): Promise<void>
}

const errorText = (err: unknown): string => (err as Error)?.message ?? String(err)

/** The host's resolv.conf as a sandbox without a cnm DNS server gets it: loopback servers cannot be reached from there. */
function hostForSandbox(host: ResolvConf): ResolvConf {
  return {
    ...host,
    nameservers: host.nameservers.filter((ns) => {
      const a = tryParseAddress(ns.split('%')[0] ?? ns)
      return a !== undefined && !isLoopback(a)
    }),
  }
}

/**
 * Starts the DNS service of a daemon: a server for every network `dnsPlanOf` accepts, and a
 * listener of the controller's changes that adds an endpoint's names when it joins a sandbox and
 * removes them when it leaves (before the API answers: the service's `settle`).
 */
export async function createDnsService(options: DnsServiceOptions): Promise<DnsService> {
  const c = options.controller
  const hostFile = options.hostResolvConf ?? '/etc/resolv.conf'
  const warn = options.warn ?? (() => undefined)
  const files: ResolverFiles = createResolverFiles(options.resolverDir)
  const running = new Map<string, Running>()
  const joined = new Map<string, JoinedEndpoint>()
  /** Ids of the scoped entries (sandboxes on several networks) set in each network's table. */
  const scoped = new Map<string, Set<string>>()
  let pending: Promise<unknown> = Promise.resolve()
  let closed = false
  // Everything started so far, as one promise (resolving to nothing: no chain of results is kept).
  const track = <T>(p: Promise<T>): Promise<T> => {
    pending = Promise.all([pending, p.catch(() => undefined)]).then(() => undefined)
    return p
  }

  const readHost = (): ResolvConf => {
    try {
      return parseResolvConf(readFileSync(hostFile, 'utf8'))
    } catch {
      return { nameservers: [], search: [], options: [] }
    }
  }

  const start = (plan: DnsPlan): Running => {
    const make = options.thread === true ? createDnsServerThread : createDnsServer
    const server = make({
      addresses: plan.addresses,
      port: options.port ?? 53,
      domain: DNS_DOMAIN,
      subnets: plan.subnets,
      forward: plan.forward,
      resolvConf: hostFile,
    }).then(
      (s: Server) => {
        // Names of endpoints that joined while it started.
        for (const ep of joined.values()) {
          const entry = ep.networkId === plan.networkId ? dnsEntryOf(ep) : undefined
          if (entry) s.names.set(entry)
        }
        return s
      },
      (err: unknown) => {
        warn(`network ${plan.networkName}: no DNS server on ${plan.addresses.join(', ')}: ${errorText(err)}`)
        return undefined
      },
    )
    const r = { plan, server }
    running.set(plan.networkId, r)
    track(server)
    return r
  }

  const stop = (networkId: string): void => {
    const r = running.get(networkId)
    if (!r) return
    running.delete(networkId)
    scoped.delete(networkId)
    track(r.server.then((s) => s?.close()))
  }

  const withServer = (networkId: string, fn: (s: Server) => void): void => {
    const r = running.get(networkId)
    if (!r) return
    track(r.server.then((s) => s && fn(s)))
  }

  const setEntry = (ep: JoinedEndpoint): void => {
    const entry = dnsEntryOf(ep)
    withServer(ep.networkId, (s) => {
      if (entry) s.names.set(entry)
      else s.names.delete(ep.id)
    })
  }

  /** Sets the scoped entries each table needs now, deletes those it no longer does. */
  const refreshScoped = (): void => {
    const want = scopedEntries(joined.values(), (id) => running.has(id))
    for (const networkId of new Set([...scoped.keys(), ...want.keys()])) {
      const entries = want.get(networkId) ?? []
      const ids = new Set(entries.map((e) => e.id))
      const stale = [...(scoped.get(networkId) ?? [])].filter((id) => !ids.has(id))
      if (entries.length === 0 && stale.length === 0) continue
      withServer(networkId, (s) => {
        for (const id of stale) s.names.delete(id)
        for (const e of entries) s.names.set(e)
      })
      if (ids.size > 0) scoped.set(networkId, ids)
      else scoped.delete(networkId)
    }
  }

  const startNetwork = (networkId: string): void => {
    if (running.has(networkId)) return
    const net = c.networkByID(networkId)
    const plan = net ? dnsPlanOf(net.inspect()) : undefined
    if (plan) start(plan)
  }

  /** Everything again from the controller's tables (at start, and after a reload from the store). */
  const rebuild = (): void => {
    const wanted = new Map<string, DnsPlan>()
    const now = new Map<string, JoinedEndpoint>()
    for (const net of c.networks()) {
      let inspect: ReturnType<typeof net.inspect>
      try {
        inspect = net.inspect()
      } catch (err) {
        warn(`network ${net.name}: its names are not served: ${errorText(err)}`)
        continue
      }
      const plan = dnsPlanOf(inspect)
      if (plan) wanted.set(net.id, plan)
      for (const e of inspect.endpoints) {
        const sb = e.joined ? c.sandboxByID(e.joined.sandboxId) : undefined
        if (!sb) continue
        const bare = (a: string | undefined): string | undefined => a?.split('/')[0]
        const iface = e.sandboxInfo.interfaces[0]
        now.set(e.id, {
          id: e.id,
          name: e.name,
          networkId: net.id,
          aliases: e.aliases,
          ipv4: bare(iface?.address),
          ipv6: bare(iface?.addressIPv6),
          sandbox: { id: sb.id, containerID: sb.containerID, name: sb.name, key: sb.key },
        })
      }
    }
    for (const id of [...running.keys()]) if (!wanted.has(id)) stop(id)
    for (const [id, plan] of wanted) if (!running.has(id)) start(plan)
    for (const [id, ep] of joined) {
      if (!now.has(id)) withServer(ep.networkId, (s) => void s.names.delete(id))
    }
    joined.clear()
    for (const [id, ep] of now) {
      joined.set(id, ep)
      setEntry(ep)
    }
    refreshScoped()
    const sandboxes = new Set(c.sandboxes().map((s) => s.id))
    for (const id of files.list()) if (!sandboxes.has(id)) files.remove(id)
    for (const ep of now.values()) refreshFiles(ep.sandbox.id)
  }

  /** The resolver configuration of a sandbox: its first network with a DNS server, else the host's servers. */
  const resolverOf = (sandboxId: string, containerID: string, name: string | undefined): SandboxResolver => {
    const eps = [...joined.values()].filter((e) => e.sandbox.id === sandboxId)
    const served = eps.find((e) => running.has(e.networkId))
    const host = readHost()
    const conf = served
      ? sandboxResolvConf({
          servers: (running.get(served.networkId) as Running).plan.addresses,
          domain: DNS_DOMAIN,
          host,
        })
      : hostForSandbox(host)
    const candidates = [name, containerID.slice(0, 12), ...eps.map((e) => e.name)]
    const hostname = candidates.find((n) => n !== undefined && tryNormalizeName(n) !== undefined) ?? 'sandbox'
    const addresses = eps.flatMap((e) => [e.ipv4, e.ipv6]).filter((a): a is string => a !== undefined)
    const comment = served
      ? `written by cnm: the DNS server of network ${(running.get(served.networkId) as Running).plan.networkName}`
      : "written by cnm: the host's name servers (no network of this sandbox has a cnm DNS server)"
    return {
      sandbox: sandboxId,
      dns: served !== undefined,
      nameservers: [...conf.nameservers],
      search: [...conf.search],
      options: [...conf.options],
      resolvConf: renderResolvConf(conf, comment),
      hosts: renderHosts({ hostname, addresses, ...(served ? { domain: DNS_DOMAIN } : {}) }),
    }
  }

  const refreshFiles = (sandboxId: string): void => {
    const sb = c.sandboxByID(sandboxId)
    if (!sb) {
      files.remove(sandboxId)
      return
    }
    const r = resolverOf(sb.id, sb.containerID, sb.name)
    try {
      files.write(sb.id, r)
    } catch (err) {
      warn(`sandbox ${sb.containerID}: cannot write its resolver files: ${errorText(err)}`)
    }
  }

  const onChange = (change: ControllerChange): void => {
    if (closed) return
    switch (change.type) {
      case 'network':
        if (change.action === 'create') startNetwork(change.id)
        else stop(change.id)
        return
      case 'join':
        joined.set(change.endpoint.id, change.endpoint)
        setEntry(change.endpoint)
        refreshScoped()
        refreshFiles(change.endpoint.sandbox.id)
        return
      case 'leave': {
        const ep = joined.get(change.endpointId)
        joined.delete(change.endpointId)
        withServer(change.networkId, (s) => void s.names.delete(change.endpointId))
        refreshScoped()
        if (ep) refreshFiles(ep.sandbox.id)
        return
      }
      case 'sandbox':
        files.remove(change.id)
        return
      case 'sync':
        rebuild()
        return
    }
  }

  rebuild()
  const off = c.onChange(onChange)
  await pending

  const settleServers = async (): Promise<void> => {
    let seen: Promise<unknown>
    do {
      seen = pending
      await seen
    } while (seen !== pending)
    const threads = await Promise.all([...running.values()].map((r) => r.server))
    await Promise.all(threads.map((s) => (s && 'synced' in s ? s.synced().catch(() => undefined) : undefined)))
  }

  return {
    settle: settleServers,
    resolver(sandbox) {
      const r = resolverOf(sandbox.id, sandbox.containerID, sandbox.name)
      const { resolvConf, hosts } = files.write(sandbox.id, r)
      return { ...r, files: { resolvConf, hosts } }
    },
    servers: () => [...running.values()].map((r) => ({ networkId: r.plan.networkId, addresses: r.plan.addresses })),
    hold: () => (running.size > 0 ? holdUdpLoops() : () => {}),
    async close() {
      if (closed) return
      closed = true
      off()
      for (const id of [...running.keys()]) stop(id)
      await settleServers().catch(() => undefined)
      for (const id of files.list()) files.remove(id)
    },
  }
}
