import type { NetworkController } from '@cnm/controller'
import type { DockerPluginServer, PluginEventSink } from '@cnm/docker-plugin'
import type { FastifyBaseLogger } from 'fastify'

/**
 * `cnm serve --docker-plugin[=<socket>]`: Docker's plugin protocols beside the API, on the same
 * controller, announcing its changes as the API's own events; the plugin's state file lies beside
 * the store. Loaded only when asked for.
 */
export async function startDockerPlugin(
  flag: string | true | undefined,
  controller: NetworkController,
  store: string,
  log: FastifyBaseLogger,
  emit: PluginEventSink,
): Promise<DockerPluginServer | undefined> {
  if (flag === undefined) return undefined
  const { serveDockerPlugin } = await import('@cnm/docker-plugin')
  return serveDockerPlugin({
    controller,
    ...(flag === true ? {} : { socketPath: flag }),
    stateFile: `${store}.docker-plugin.json`,
    logger: log.child({ plugin: 'docker' }),
    emit,
  })
}
