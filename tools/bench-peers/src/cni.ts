// The CNI reference plugins from Debian's `containernetworking-plugins`, run as a conflist chain
// `bridge` (+ `host-local` IPAM, which the bridge plugin calls itself) -> `portmap`, exactly as a
// runtime runs them: CNI_* environment, config JSON on stdin, prevResult passed down the chain on
// ADD, DEL in reverse order with the cached result.
import path from 'node:path'
import { nthHost } from '@cnm/ipallocator'
import { createPeerNamespace, createScratchDir } from './netns.js'
import { checkHostPort, checkIndex, hexId, type Peer, type PeerOptions } from './peer.js'
import { childEnv, DEFAULT_TIMEOUT_MS, isExecutable, ProcessError, run } from './run.js'

/** Where Debian (and other distributions) put the CNI plugins; the first with all three wins. */
export const CNI_PLUGIN_DIRS = ['/usr/lib/cni', '/usr/libexec/cni', '/opt/cni/bin']
export const CNI_PLUGINS = ['bridge', 'host-local', 'portmap']

export function findCniPluginDir(preferred?: string): string | undefined {
  const dirs = preferred ? [preferred, ...CNI_PLUGIN_DIRS] : CNI_PLUGIN_DIRS
  return dirs.find((d) => CNI_PLUGINS.every((p) => isExecutable(path.join(d, p))))
}

export interface CniPeerOptions extends PeerOptions {
  pluginDir?: string
  cniVersion?: string
  hairpinMode?: boolean
  ipMasq?: boolean
}

interface PluginConf {
  type: string
  capabilities?: { portMappings?: boolean }
  [key: string]: unknown
}

interface CniResult {
  ips?: { address: string }[]
}

function cniError(plugin: string, err: unknown): Error {
  // A failing plugin prints { code, msg, details } on stdout.
  let msg = err instanceof Error ? err.message : String(err)
  try {
    const j = JSON.parse(err instanceof ProcessError ? err.result.stdout : '')
    if (j?.msg) msg = `${j.msg}${j.details ? `: ${j.details}` : ''} (CNI error ${j.code})`
  } catch {}
  return new Error(`CNI ${plugin}: ${msg}`, { cause: err })
}

/** The CNI peer in a new namespace of its own (see {@link Peer}). */
export async function createCniPeer(opts: CniPeerOptions = {}): Promise<Peer> {
  const {
    bridge = 'cnibench0',
    subnet = '10.201.0.0/16',
    networkName = 'cnibench',
    hostPortBase = 20000,
    containerPort = 80,
    protocol = 'tcp',
    ifname = 'eth0',
    cniVersion = '1.0.0',
    hairpinMode = true,
    ipMasq = true,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  } = opts
  const pluginDir = findCniPluginDir(opts.pluginDir)
  if (!pluginDir) throw new Error(`CNI plugins ${CNI_PLUGINS.join(', ')} not found (run ensurePeersInstalled() first)`)
  const gateway = nthHost(subnet, 1)
  const ns = await createPeerNamespace('cni', opts.netnsDir)
  const state = createScratchDir('cnibench')
  const attached = new Map<number, { cid: string; nsPath: string; result: CniResult | undefined }>()

  // The conflist a runtime would load; plugins run in this order on ADD, in reverse on DEL.
  const plugins: PluginConf[] = [
    {
      type: 'bridge',
      bridge,
      isGateway: true,
      ipMasq,
      hairpinMode,
      ipam: {
        type: 'host-local',
        ranges: [[{ subnet, gateway }]],
        routes: [{ dst: '0.0.0.0/0' }],
        dataDir: path.join(state.path, 'ipam'),
      },
    },
    { type: 'portmap', capabilities: { portMappings: true }, snat: true },
  ]

  const hostPort = (i: number): number => checkHostPort(hostPortBase + i)
  const containerId = (i: number): string => hexId('cnibench', networkName, String(i))

  /** The per-plugin config a runtime (libcni) hands a plugin: conflist name/version + runtimeConfig + prevResult. */
  function pluginConfig(plugin: PluginConf, i: number, prevResult: CniResult | undefined): Record<string, unknown> {
    const conf: Record<string, unknown> = { cniVersion, name: networkName, ...plugin }
    if (plugin.capabilities?.portMappings) {
      conf.runtimeConfig = { portMappings: [{ hostPort: hostPort(i), containerPort, protocol }] }
    }
    if (prevResult) conf.prevResult = prevResult
    return conf
  }

  async function invoke(
    command: 'ADD' | 'DEL',
    plugin: PluginConf,
    i: number,
    cid: string,
    nsPath: string,
    prevResult: CniResult | undefined,
  ): Promise<CniResult | undefined> {
    const env = childEnv({
      CNI_COMMAND: command,
      CNI_CONTAINERID: cid,
      CNI_NETNS: nsPath,
      CNI_IFNAME: ifname,
      CNI_PATH: pluginDir,
    })
    const input = JSON.stringify(pluginConfig(plugin, i, prevResult))
    try {
      const r = await run(path.join(pluginDir as string, plugin.type), [], { env, input, timeoutMs, netns: ns.path })
      return command === 'ADD' ? (JSON.parse(r.stdout) as CniResult) : undefined
    } catch (err) {
      throw cniError(`${plugin.type} ${command}`, err)
    }
  }

  async function delChain(i: number, cid: string, nsPath: string, result: CniResult | undefined): Promise<void> {
    let first: unknown
    for (const plugin of [...plugins].reverse()) {
      try {
        await invoke('DEL', plugin, i, cid, nsPath, result)
      } catch (err) {
        first ??= err
      }
    }
    if (first) throw first
  }

  return {
    name: 'cni-bridge+host-local+portmap',
    kind: 'cni',
    netns: ns.path,
    bridge,
    subnet,
    gateway,
    containerPort,
    hostPort,
    /** The container's IPv4 address as host-local handed it out (after attach). */
    addressOf(i) {
      const ip = attached.get(i)?.result?.ips?.find((x) => !x.address.includes(':'))
      return ip ? ip.address.split('/')[0] : undefined
    },
    async attach(i, nsPath) {
      checkIndex(i)
      if (attached.has(i)) throw new Error(`container ${i} already attached`)
      const cid = containerId(i)
      let prevResult: CniResult | undefined
      try {
        for (const plugin of plugins) prevResult = await invoke('ADD', plugin, i, cid, nsPath, prevResult)
      } catch (err) {
        // A runtime DELs the whole chain after a failed ADD.
        await delChain(i, cid, nsPath, prevResult).catch(() => {})
        throw err
      }
      attached.set(i, { cid, nsPath, result: prevResult })
    },
    async detach(i, nsPath) {
      checkIndex(i)
      const s = attached.get(i)
      await delChain(i, s?.cid ?? containerId(i), nsPath, s?.result)
      attached.delete(i)
    },
    async cleanup() {
      attached.clear()
      ns.remove()
      state.remove()
    },
  }
}
