// Finding the peers, and installing them from Debian when they are missing.
import { aptInstall, debVersion } from './apt.js'
import { CNI_PLUGIN_DIRS, CNI_PLUGINS, findCniPluginDir } from './cni.js'
import { findNetavark, NETAVARK_PATHS } from './netavark.js'
import { which } from './run.js'

export interface PeerAvailability {
  available: boolean
  /** Why not (or what else is missing). */
  reason?: string
  /** The Debian package's version. */
  version?: string
}

export interface PeersAvailable {
  cni: PeerAvailability & { pluginDir?: string }
  netavark: PeerAvailability & { binary?: string }
}

export interface EnsureOptions {
  /** Install what is missing (default true); false only reports. */
  install?: boolean
  log?: (msg: string) => void
}

async function detectPeers(): Promise<PeersAvailable> {
  const pluginDir = findCniPluginDir()
  const binary = findNetavark()
  const missingTools = [!which('iptables') && 'iptables', !which('ip') && 'ip (iproute2)'].filter(Boolean)
  const toolReason = missingTools.length ? `${missingTools.join(' and ')} not found` : undefined
  const cni: PeersAvailable['cni'] = pluginDir
    ? { available: !toolReason, pluginDir, version: await debVersion('containernetworking-plugins') }
    : { available: false, reason: `CNI plugins ${CNI_PLUGINS.join(', ')} not found in ${CNI_PLUGIN_DIRS.join(', ')}` }
  if (pluginDir && toolReason) cni.reason = toolReason
  const netavark: PeersAvailable['netavark'] = binary
    ? { available: !toolReason, binary, version: await debVersion('netavark') }
    : { available: false, reason: `netavark not found in ${NETAVARK_PATHS.join(', ')} or on PATH` }
  if (binary && toolReason) netavark.reason = toolReason
  return { cni, netavark }
}

/**
 * Makes sure both peers are installed from Debian's packages (`containernetworking-plugins`,
 * `netavark`, and `iptables`/`iproute2` which they use): when one is missing, installs the
 * missing packages with {@link aptInstall} (never when nothing is missing). Must run while the
 * process still has the machine's network, i.e. before unshare().
 */
export async function ensurePeersInstalled({
  install = true,
  log = () => {},
}: EnsureOptions = {}): Promise<PeersAvailable> {
  const found = await detectPeers()
  const wanted: string[] = []
  if (!findCniPluginDir()) wanted.push('containernetworking-plugins')
  if (!findNetavark()) wanted.push('netavark')
  if (!which('iptables')) wanted.push('iptables')
  if (!which('ip')) wanted.push('iproute2')
  if (wanted.length === 0 || !install) return found
  const apt = await aptInstall(wanted, log)
  const after = await detectPeers()
  for (const peer of [after.cni, after.netavark]) {
    if (!peer.available && apt.reason) peer.reason = `${peer.reason}; ${apt.reason}`
  }
  return after
}
