import type { HandleContext } from './context.js'
import { AF_INET, AF_INET6, bytesToIp, parsePrefixedAddress, v4Broadcast } from './ip-codec.js'
import { getLink } from './links.js'
import { type AddressMessage, NLM_F, RTM, rt } from './rtnl-socket.js'

/** An address on a link, as the kernel reports it. */
export interface LinkAddress {
  /** The ifindex of the link it is on. */
  index: number
  /** The IP version. */
  family: 4 | 6
  /** `10.0.0.2/24`, `fd00::2/64`. */
  cidr: string
  /** The address alone, canonical text (`10.0.0.2`, `fd00::2`). */
  address: string
  /** The prefix length of its subnet (`24`). */
  prefixLength: number
}

const NEW = NLM_F.REQUEST | NLM_F.ACK

function toAddress(m: AddressMessage): LinkAddress | undefined {
  const raw = m.attrs.local ?? m.attrs.address
  if (!raw) return undefined
  const address = bytesToIp(raw)
  const prefixLength = m.data.prefixlen ?? 0
  return {
    index: m.data.index ?? 0,
    family: m.data.family === AF_INET6 ? 6 : 4,
    cidr: `${address}/${prefixLength}`,
    address,
    prefixLength,
  }
}

/** Addresses in the namespace, optionally only those of link `name`. */
export async function listAddresses(ctx: HandleContext, name?: string): Promise<LinkAddress[]> {
  const index = name === undefined ? undefined : (await getLink(ctx, name)).index
  const msgs = await ctx.sock.request(
    RTM.GETADDR,
    NEW | NLM_F.DUMP,
    (o) => rt.formatAddressMessage({ kind: 'address', data: {}, attrs: {} }, o),
    `list addresses${name ? ` of ${name}` : ''}`,
  )
  return msgs
    .filter((m): m is AddressMessage => m.kind === 'address')
    .map(toAddress)
    .filter((a): a is LinkAddress => a !== undefined && (index === undefined || a.index === index))
}

function addressPayload(index: number, cidr: string, noDad: boolean): AddressMessage {
  const p = parsePrefixedAddress(cidr)
  const data = {
    family: p.family,
    prefixlen: p.prefixLength,
    index,
    ...(p.family === AF_INET6 && noDad ? { flags: { nodad: true as const } } : {}),
  }
  const attrs =
    p.family === AF_INET
      ? {
          local: p.bytes,
          address: p.bytes,
          ...(p.prefixLength < 31 ? { broadcast: v4Broadcast(p.bytes, p.prefixLength) } : {}),
        }
      : { address: p.bytes }
  return { kind: 'address', data, attrs }
}

/** Adds `cidr` to link `name`. IPv6 addresses skip duplicate-address detection unless `noDad: false`. */
export async function addAddress(
  ctx: HandleContext,
  name: string,
  cidr: string,
  opts: { noDad?: boolean } = {},
): Promise<void> {
  parsePrefixedAddress(cidr)
  const { index } = await getLink(ctx, name)
  const msg = addressPayload(index, cidr, opts.noDad ?? true)
  await ctx.sock.request(
    RTM.NEWADDR,
    NEW | NLM_F.CREATE | NLM_F.EXCL,
    (o) => rt.formatAddressMessage(msg, o),
    `add address ${cidr} to ${name}`,
  )
}

/** Removes `cidr` from link `name` (`EADDRNOTAVAIL` when it is not there). */
export async function deleteAddress(ctx: HandleContext, name: string, cidr: string): Promise<void> {
  parsePrefixedAddress(cidr)
  const { index } = await getLink(ctx, name)
  const msg = addressPayload(index, cidr, false)
  await ctx.sock.request(
    RTM.DELADDR,
    NEW,
    (o) => rt.formatAddressMessage(msg, o),
    `delete address ${cidr} from ${name}`,
  )
}
