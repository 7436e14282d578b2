import { hasErrorCode } from '@cnm/driverapi'
import type { NetworkContext } from '../resources.js'

/** The key of a per-interface sysctl of the network's bridge (`net/<family>/conf/<bridge>/<name>`). */
export function bridgeSysctl(net: NetworkContext['net'], family: 'ipv4' | 'ipv6', name: string): string {
  return `net/${family}/conf/${net.bridgeName}/${name}`
}

/**
 * Notes what a sysctl of an adopted bridge holds before cnm changes it, once: the bridge is not
 * cnm's, so the value goes back when the network does.
 */
export function notePriorSysctl({ res, net, bridgeWasOurs }: NetworkContext, key: string): void {
  if (net.createdBridge || bridgeWasOurs) return
  if (!(key in net.priorSysctls)) net.priorSysctls[key] = res.host.readSysctl(key)
}

/** Sets a sysctl of the bridge, noting an adopted bridge's value first. */
export function setBridgeSysctl(ctx: NetworkContext, key: string, value: string): void {
  notePriorSysctl(ctx, key)
  ctx.res.host.writeSysctl(key, value)
}

/** Puts back a sysctl's noted value on an adopted bridge; a bridge gone meanwhile is fine. */
export function restoreBridgeSysctl({ res, net }: NetworkContext, key: string): void {
  const prior = net.priorSysctls[key]
  if (prior === undefined) return
  if (!net.createdBridge) {
    try {
      if (res.host.readSysctl(key) !== prior) res.host.writeSysctl(key, prior)
    } catch (err) {
      if (!hasErrorCode(err, 'ENOENT')) throw err
    }
  }
  delete net.priorSysctls[key]
}
