import { InvalidConfigError, NotSupportedError } from '@cnm/driverapi'

/** How a Docker driver option's value (a string, from `-o k=v` or dockerd) becomes cnm's. */
type Conversion = 'string' | 'boolean' | 'integer'

/**
 * Docker's bridge driver options (`docker network create -o …`, dockerd's generic options) and the
 * cnm bridge options they set. The CLI, the REST API, the Docker plugin and the library all take
 * them through `parseNetworkConfig`, which maps them with {@link fromDockerOptions}.
 */
export const DOCKER_BRIDGE_OPTIONS: Readonly<Record<string, { option: string; type: Conversion }>> = {
  'com.docker.network.bridge.name': { option: 'bridgeName', type: 'string' },
  'com.docker.network.bridge.enable_icc': { option: 'enableICC', type: 'boolean' },
  'com.docker.network.bridge.enable_ip_masquerade': { option: 'enableIPMasquerade', type: 'boolean' },
  'com.docker.network.bridge.host_binding_ipv4': { option: 'hostBindingIPv4', type: 'string' },
  'com.docker.network.driver.mtu': { option: 'mtu', type: 'integer' },
  'com.docker.network.enable_ipv6': { option: 'enableIPv6', type: 'boolean' },
  'com.docker.network.internal': { option: 'internal', type: 'boolean' },
}

/** Docker options that only mean something to dockerd itself: accepted, and change nothing here. */
const DOCKER_IGNORED = new Set(['com.docker.network.bridge.default_bridge', 'com.docker.network.generic'])

/** Docker options cnm does not have (yet): refused by name rather than silently dropped. */
const DOCKER_UNSUPPORTED = new Set([
  'com.docker.network.bridge.inhibit_ipv4',
  'com.docker.network.bridge.gateway_mode_ipv4',
  'com.docker.network.bridge.gateway_mode_ipv6',
  'com.docker.network.container_iface_prefix',
])

/** Whether an option key is one of Docker's (`com.docker.network.…`). */
export function isDockerOption(key: string): boolean {
  return key.startsWith('com.docker.network.')
}

function convert(key: string, value: unknown, type: Conversion): unknown {
  if (type === 'string') {
    if (typeof value !== 'string') throw new InvalidConfigError(`${key} must be a string, got ${JSON.stringify(value)}`)
    return value
  }
  if (type === 'boolean') {
    if (typeof value === 'boolean') return value
    // Docker parses these with Go's strconv.ParseBool.
    if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(String(value))) return true
    if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(String(value))) return false
    throw new InvalidConfigError(`${key} must be true or false, got ${JSON.stringify(value)}`)
  }
  const n = typeof value === 'number' ? value : /^\d+$/u.test(String(value)) ? Number(value) : Number.NaN
  if (!Number.isInteger(n)) throw new InvalidConfigError(`${key} must be an integer, got ${JSON.stringify(value)}`)
  return n
}

/**
 * Maps Docker's keys in `raw` onto cnm's bridge options (the other keys are kept as they are). A
 * cnm option given twice (`bridgeName` and `com.docker.network.bridge.name`) is refused, naming
 * both; so is a Docker option cnm does not have, or an unknown `com.docker.network.` key.
 */
export function fromDockerOptions(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const setBy = new Map<string, string>()
  for (const [key, value] of Object.entries(raw)) {
    if (!isDockerOption(key)) {
      if (setBy.has(key)) throw new InvalidConfigError(`${key} is given twice (also as ${setBy.get(key)})`)
      setBy.set(key, key)
      out[key] = value
      continue
    }
    if (DOCKER_IGNORED.has(key)) continue
    if (DOCKER_UNSUPPORTED.has(key)) throw new NotSupportedError(`bridge network option ${key} is not supported by cnm`)
    const map = DOCKER_BRIDGE_OPTIONS[key]
    if (!map) {
      throw new InvalidConfigError(
        `unknown Docker bridge network option ${JSON.stringify(key)} (cnm maps ${Object.keys(DOCKER_BRIDGE_OPTIONS).join(', ')})`,
      )
    }
    if (setBy.has(map.option)) {
      throw new InvalidConfigError(`${key} sets ${map.option}, which ${setBy.get(map.option)} already sets`)
    }
    setBy.set(map.option, key)
    out[map.option] = convert(key, value, map.type)
  }
  return out
}
