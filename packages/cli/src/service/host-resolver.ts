import { readFileSync } from 'node:fs'
import type { Resolver } from '@cnm/client'
import type { Sandbox } from '@cnm/controller'
import { parseResolvConf, renderHosts, renderResolvConf, tryNormalizeName } from '@cnm/dns'
import { isLoopback, tryParseAddress } from '@cnm/ip'

/**
 * A sandbox's resolver configuration when no daemon runs a DNS server for it (cnm in process): the
 * host's resolv.conf without loopback servers (unreachable from the sandbox), and a hosts file
 * naming the sandbox. Nothing is written.
 */
export function hostResolver(sb: Sandbox, hostFile = '/etc/resolv.conf'): Resolver {
  let text = ''
  try {
    text = readFileSync(hostFile, 'utf8')
  } catch {
    // No resolv.conf: no servers.
  }
  const host = parseResolvConf(text)
  const conf = {
    ...host,
    nameservers: host.nameservers.filter((ns) => {
      const a = tryParseAddress(ns.split('%')[0] ?? ns)
      return a !== undefined && !isLoopback(a)
    }),
  }
  const eps = sb.endpoints()
  const addresses = eps
    .flatMap((e) => [e.sandboxInfo.interfaces[0]?.address, e.sandboxInfo.interfaces[0]?.addressIPv6])
    .filter((a): a is string => a !== undefined)
    .map((a) => a.split('/')[0] as string)
  const hostname =
    [sb.name, sb.containerID.slice(0, 12), ...eps.map((e) => e.name)].find(
      (n) => n !== undefined && tryNormalizeName(n) !== undefined,
    ) ?? 'sandbox'
  return {
    sandbox: sb.id,
    dns: false,
    nameservers: [...conf.nameservers],
    search: [...conf.search],
    options: [...conf.options],
    resolvConf: renderResolvConf(conf, "written by cnm: the host's name servers (no cnm daemon: no DNS server)"),
    hosts: renderHosts({ hostname, addresses }),
  }
}
