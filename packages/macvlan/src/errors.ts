import { DriverError } from '@cnm/driverapi'

/** A parent interface another macvlan network of this driver already uses (Docker refuses it too). */
export const ERR_PARENT_IN_USE = 'ERR_PARENT_IN_USE'

/** The parent interface is already the parent of another macvlan network. */
export class ParentInUseError extends DriverError {
  readonly parent: string
  readonly networkId: string
  constructor(parent: string, networkId: string) {
    super(ERR_PARENT_IN_USE, 'conflict', `network ${networkId} is already using parent interface ${parent}`)
    this.parent = parent
    this.networkId = networkId
  }
}
