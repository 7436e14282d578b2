import type { NetworkConfig } from './network-config.js'
import type { NetworkState } from './resources.js'

/** A network's state before its setup steps run. */
export function newNetworkState(
  id: string,
  config: NetworkConfig,
  bridgeName: string,
  rawOptions: unknown,
): NetworkState {
  return {
    id,
    rawOptions,
    config,
    bridgeName,
    bridgeIndex: undefined,
    createdBridge: false,
    subnetV4: undefined,
    gatewayV4: undefined,
    bridgeCidrV4: undefined,
    addedV4: false,
    subnetV6: undefined,
    gatewayV6: undefined,
    bridgeCidrV6: undefined,
    addedV6: false,
    moreSubnets: [],
    pools: [],
    firewallProgrammed: false,
    priorSysctls: {},
    portMapper: undefined,
    endpoints: new Map(),
  }
}
