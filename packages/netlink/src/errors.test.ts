import { CnmError } from '@cnm/driverapi'
import { describe, expect, it } from 'vitest'
import {
  ERR_ADDON_UNAVAILABLE,
  ERR_HANDLE_CLOSED,
  ERR_INVALID_INTERFACE_NAME,
  ERR_INVALID_MTU,
  ERR_NETLINK_TIMEOUT,
  kernelError,
  NetlinkError,
} from './errors.js'

describe('NetlinkError', () => {
  it('is a CnmError whose kind follows from its code', () => {
    const err = new NetlinkError(ERR_INVALID_MTU, 'invalid MTU 70000 for br0')
    expect(err).toBeInstanceOf(CnmError)
    expect(err).toMatchObject({ name: 'NetlinkError', code: ERR_INVALID_MTU, kind: 'invalid' })
    expect(new NetlinkError(ERR_INVALID_INTERFACE_NAME, 'x').kind).toBe('invalid')
    expect(new NetlinkError('ERR_INVALID_ADDRESS', 'x').kind).toBe('invalid')
    expect(new NetlinkError(ERR_HANDLE_CLOSED, 'x').kind).toBe('unavailable')
    expect(new NetlinkError(ERR_ADDON_UNAVAILABLE, 'x').kind).toBe('unsupported')
    expect(new NetlinkError(ERR_NETLINK_TIMEOUT, 'x').kind).toBe('kernel')
  })

  it('a kernel failure carries the errno name, the errno and the kind the errno means', () => {
    expect(kernelError(17, 'create bridge br0')).toMatchObject({
      code: 'EEXIST',
      errno: 17,
      kind: 'conflict',
      message: 'create bridge br0: EEXIST',
    })
    expect(kernelError(19, 'get link eth9')).toMatchObject({ code: 'ENODEV', kind: 'not-found' })
    expect(kernelError(1, 'create bridge br0')).toMatchObject({ code: 'EPERM', kind: 'kernel' })
  })
})
