import { tryParseAddress } from '@cnm/ip'
import { invalidConfig } from './errors.js'
import { normalizeName } from './names.js'

/** What a resolv.conf says (the parts resolvers read). */
export interface ResolvConf {
  /** Name server addresses, in order, canonical (a link-local IPv6 keeps its `%zone`). */
  readonly nameservers: readonly string[]
  /** Search domains, in order (`domain` counts as a one-entry search list, the last line wins). */
  readonly search: readonly string[]
  /** `options` words, in order, one per option (`ndots:2`, `edns0`, `timeout:1` …). */
  readonly options: readonly string[]
}

/**
 * Reads resolv.conf text as glibc does: `nameserver`, `search`/`domain` (the last one wins),
 * `options`; `#` and `;` start comments; unknown lines and unparsable addresses are skipped.
 */
export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = []
  let search: string[] = []
  const options: string[] = []
  for (const raw of text.split('\n')) {
    const words = raw
      .replace(/[#;].*$/u, '')
      .trim()
      .split(/\s+/u)
    const [key, ...rest] = words
    if (key === 'nameserver' && rest[0] !== undefined) {
      const [addr = '', zone] = rest[0].split('%')
      const parsed = tryParseAddress(addr)
      if (parsed) nameservers.push(zone === undefined ? parsed.text : `${parsed.text}%${zone}`)
    } else if (key === 'search') search = rest.filter((w) => w.length > 0)
    else if (key === 'domain' && rest[0] !== undefined) search = [rest[0]]
    else if (key === 'options') options.push(...rest.filter((w) => w.length > 0))
  }
  return { nameservers, search, options }
}

/** resolv.conf text for `conf` (a comment line first when given). */
export function renderResolvConf(conf: ResolvConf, comment?: string): string {
  const lines: string[] = []
  if (comment !== undefined) lines.push(`# ${comment.replace(/\n/gu, ' ')}`)
  if (conf.search.length > 0) lines.push(`search ${conf.search.join(' ')}`)
  for (const ns of conf.nameservers) lines.push(`nameserver ${ns}`)
  if (conf.options.length > 0) lines.push(`options ${conf.options.join(' ')}`)
  return `${lines.join('\n')}\n`
}

/**
 * Options of {@link sandboxResolvConf}: the DNS server's addresses (at least one, each an IP address;
 * `ERR_INVALID_DNS_CONFIG` otherwise), the network's domain, and the host's resolv.conf to take search
 * domains and options from.
 */
export interface SandboxResolvConfOptions {
  /** The addresses the network's DNS server listens on (its gateways): the sandbox's name servers. */
  readonly servers: readonly string[]
  /** The network's search domain, first in the search list. */
  readonly domain?: string
  /** The host's resolv.conf: its search domains follow the network's, its options are kept. */
  readonly host?: ResolvConf
}

/** Options glibc reads per resolver; a later one with the same key replaces an earlier one. */
function optionKey(option: string): string {
  return option.split(':')[0] ?? option
}

/**
 * A sandbox's resolver configuration: the network's DNS server as the only name servers (glibc
 * reads three at most), the network's domain then the host's search list, and the host's options
 * (`ndots`, `timeout`, `attempts`, `edns0`, `rotate` … : the upstream behaviour the user chose).
 */
export function sandboxResolvConf(options: SandboxResolvConfOptions): ResolvConf {
  if (options.servers.length === 0) throw invalidConfig('a sandbox resolv.conf needs at least one server address')
  const nameservers = options.servers.map((s) => {
    const a = tryParseAddress(s)
    if (!a) throw invalidConfig(`DNS server address ${JSON.stringify(s)} is not an IP address`)
    return a.text
  })
  const search: string[] = []
  if (options.domain !== undefined) search.push(normalizeName(options.domain, 'domain'))
  for (const s of options.host?.search ?? []) {
    const lower = s.toLowerCase().replace(/\.$/u, '')
    if (!search.includes(lower)) search.push(lower)
  }
  const byKey = new Map<string, string>()
  for (const o of options.host?.options ?? []) {
    byKey.delete(optionKey(o))
    byKey.set(optionKey(o), o)
  }
  return {
    nameservers: [...new Set(nameservers)].slice(0, 3),
    search: search.slice(0, 6),
    options: [...byKey.values()],
  }
}

/**
 * Options of {@link renderHosts}: the sandbox's host name, its addresses, domain and aliases (each a
 * valid DNS name; `ERR_INVALID_DNS_NAME` otherwise) and extra `--add-host` lines.
 */
export interface HostsOptions {
  /** The sandbox's host name (the container's name or short id). */
  readonly hostname: string
  /** Its addresses on its networks: each line names the host. */
  readonly addresses?: readonly string[]
  /** The network's domain: `hostname.domain` is written before the short name. */
  readonly domain?: string
  /** More names of the sandbox itself (its aliases), after the host name. */
  readonly aliases?: readonly string[]
  /** Extra lines (Docker's `--add-host`): an address and its names. */
  readonly extra?: readonly { readonly address: string; readonly names: readonly string[] }[]
}

const LOCAL_LINES = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
]

/** A sandbox's `/etc/hosts`: Docker's loopback lines, then the sandbox's own names on each address. */
export function renderHosts(options: HostsOptions): string {
  const hostname = normalizeName(options.hostname, 'host name') && options.hostname
  const own: string[] = []
  if (options.domain !== undefined) own.push(`${hostname}.${normalizeName(options.domain, 'domain')}`)
  own.push(hostname)
  for (const alias of options.aliases ?? []) {
    normalizeName(alias, 'alias')
    if (!own.includes(alias)) own.push(alias)
  }
  const lines = [...LOCAL_LINES]
  for (const text of options.addresses ?? []) lines.push(`${canonical(text)}\t${own.join(' ')}`)
  for (const { address, names } of options.extra ?? []) {
    for (const n of names) normalizeName(n, 'host name')
    if (names.length > 0) lines.push(`${canonical(address)}\t${names.join(' ')}`)
  }
  return `${lines.join('\n')}\n`
}

function canonical(text: string): string {
  const a = tryParseAddress(text)
  if (!a) throw invalidConfig(`hosts entry: ${JSON.stringify(text)} is not an IP address`)
  return a.text
}
