import { CliError, ERR_DOCKER_OWNED } from './errors.js'

/**
 * A network dockerd made through cnm's Docker plugin: `docker-<network id>` (@cnm/docker-plugin's
 * `networkName`, not imported here: the plugin's server stays out of the commands' start).
 */
const DOCKER_NETWORK = /^docker-([0-9a-f]{64})$/u

/** The Docker network id of a cnm network dockerd made, or undefined. */
export function dockerNetworkIdOf(name: string): string | undefined {
  return DOCKER_NETWORK.exec(name)?.[1]
}

/**
 * `ERR_DOCKER_OWNED` for removing with cnm what dockerd made (its network, or an endpoint of it):
 * dockerd is not told, keeps listing it and fails on it. `docker network rm` or `docker network
 * disconnect` go through dockerd; `-f` removes it anyway (one dockerd forgot while cnm was down).
 */
export function refuseDockerOwned(what: 'network' | 'endpoint', name: string, network: string): never {
  const id = dockerNetworkIdOf(network)?.slice(0, 12) ?? network
  const instead =
    what === 'network'
      ? `docker network rm ${id}`
      : `docker network disconnect ${id} <container> (or docker rm of its container)`
  throw new CliError(
    ERR_DOCKER_OWNED,
    `${what} ${name} was made by dockerd (Docker network ${id}): remove it with ${instead}, which tells dockerd; -f removes it anyway (dockerd is not told: for one it forgot while cnm was down)`,
  )
}
