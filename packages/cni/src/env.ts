import { isValidInterfaceName } from '@cnm/netlink'
import { CNI_ERROR, CniError, ERR_CNI_ENV } from './errors.js'

/** The verbs of CNI 1.1. */
export const CNI_COMMANDS = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'] as const
/** A `CNI_COMMAND` value: one of {@link CNI_COMMANDS} (`ADD`, `DEL`, `CHECK`, `STATUS`, `GC`, `VERSION`). */
export type CniCommand = (typeof CNI_COMMANDS)[number]

/** The `CNI_*` environment of one invocation, validated. */
export interface CniEnv {
  command: CniCommand
  /** CNI_CONTAINERID (ADD, DEL, CHECK). */
  containerId: string
  /** CNI_NETNS: the runtime's namespace path (required for ADD and CHECK; DEL may lack it). */
  netns: string | undefined
  /** CNI_IFNAME: the interface to create inside the namespace. */
  ifname: string
  /** CNI_ARGS as key/value pairs (`IgnoreUnknown` removed). */
  args: Record<string, string>
}

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/u
/** CNI_ARGS keys cnm reads, or knows and ignores (Kubernetes passes these to every plugin). */
const KNOWN_ARGS = new Set([
  'IP',
  'MAC',
  'K8S_POD_NAMESPACE',
  'K8S_POD_NAME',
  'K8S_POD_INFRA_CONTAINER_ID',
  'K8S_POD_UID',
])

const invalid = (message: string): CniError =>
  new CniError(ERR_CNI_ENV, 'invalid', CNI_ERROR.INVALID_ENVIRONMENT, message)

function validNetnsPath(p: string): boolean {
  return (
    p.startsWith('/') &&
    !p.includes('\0') &&
    !p.split('/').some((s, i) => i > 0 && (s === '' || s === '.' || s === '..'))
  )
}

function parseArgs(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (!text) return out
  let ignoreUnknown = false
  const pairs: [string, string][] = []
  for (const part of text.split(';')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    if (eq <= 0) throw invalid(`CNI_ARGS: ${JSON.stringify(part)} is not KEY=VALUE`)
    const [k, v] = [part.slice(0, eq), part.slice(eq + 1)]
    if (k === 'IgnoreUnknown') ignoreUnknown = v === '1' || v.toLowerCase() === 'true'
    else pairs.push([k, v])
  }
  for (const [k, v] of pairs) {
    if (KNOWN_ARGS.has(k)) out[k] = v
    else if (!ignoreUnknown) throw invalid(`CNI_ARGS: unknown key ${JSON.stringify(k)} (IgnoreUnknown=1 allows it)`)
  }
  return out
}

/** Reads and checks the `CNI_*` variables a command needs (SPEC.md, "Parameters"). */
export function parseCniEnv(env: Readonly<Record<string, string | undefined>>): CniEnv {
  const command = env.CNI_COMMAND
  if (!command) throw invalid('CNI_COMMAND is not set')
  if (!(CNI_COMMANDS as readonly string[]).includes(command)) {
    throw invalid(`CNI_COMMAND ${JSON.stringify(command)} is not one of ${CNI_COMMANDS.join(', ')}`)
  }
  const cmd = command as CniCommand
  const attachment = cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK'
  const containerId = env.CNI_CONTAINERID ?? ''
  const ifname = env.CNI_IFNAME ?? ''
  const netns = env.CNI_NETNS || undefined
  if (attachment) {
    if (!CONTAINER_ID.test(containerId)) {
      throw invalid(`CNI_CONTAINERID ${JSON.stringify(containerId)} must be letters, digits, "_", "." or "-"`)
    }
    if (!isValidInterfaceName(ifname)) throw invalid(`CNI_IFNAME ${JSON.stringify(ifname)} is not an interface name`)
    if (cmd !== 'DEL' && netns === undefined) throw invalid(`CNI_NETNS is required for ${cmd}`)
    if (netns !== undefined && !validNetnsPath(netns)) {
      throw invalid(`CNI_NETNS ${JSON.stringify(netns)} must be an absolute, normalised path`)
    }
  }
  return { command: cmd, containerId, netns, ifname, args: attachment ? parseArgs(env.CNI_ARGS) : {} }
}
