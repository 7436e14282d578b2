import { type TSchema, Type } from 'typebox'

// Request bodies of Docker's plugin protocols (libnetwork's drivers/remote/api and ipams/remote/api).
// Go sends `null` for an empty map or slice; fields a newer dockerd adds are let through.

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])
const Id = Type.String({ minLength: 1, maxLength: 128 })
const StringMap = Type.Record(Type.String(), Type.String())
const AnyMap = Type.Record(Type.String(), Type.Unknown())

const IpamData = Type.Object({
  AddressSpace: Type.Optional(Type.String()),
  Pool: Type.String(),
  Gateway: Type.Optional(Type.String()),
  AuxAddresses: Type.Optional(Nullable(StringMap)),
})

const NetworkRef = Type.Object({ NetworkID: Id })
const EndpointRef = Type.Object({ NetworkID: Id, EndpointID: Id })

export const SCHEMAS = {
  empty: Type.Optional(Nullable(Type.Object({}))),
  createNetwork: Type.Object({
    NetworkID: Id,
    Options: Type.Optional(Nullable(AnyMap)),
    IPv4Data: Type.Optional(Nullable(Type.Array(IpamData))),
    IPv6Data: Type.Optional(Nullable(Type.Array(IpamData))),
  }),
  allocateNetwork: Type.Object({
    NetworkID: Id,
    Options: Type.Optional(Nullable(StringMap)),
    IPv4Data: Type.Optional(Nullable(Type.Array(IpamData))),
    IPv6Data: Type.Optional(Nullable(Type.Array(IpamData))),
  }),
  network: NetworkRef,
  endpoint: EndpointRef,
  createEndpoint: Type.Object({
    NetworkID: Id,
    EndpointID: Id,
    Interface: Type.Optional(
      Nullable(
        Type.Object({
          Address: Type.Optional(Type.String()),
          AddressIPv6: Type.Optional(Type.String()),
          MacAddress: Type.Optional(Type.String()),
        }),
      ),
    ),
    Options: Type.Optional(Nullable(AnyMap)),
  }),
  join: Type.Object({
    NetworkID: Id,
    EndpointID: Id,
    SandboxKey: Type.Optional(Type.String()),
    Options: Type.Optional(Nullable(AnyMap)),
  }),
  program: Type.Object({ NetworkID: Id, EndpointID: Id, Options: Type.Optional(Nullable(AnyMap)) }),
  discovery: Type.Object({
    DiscoveryType: Type.Optional(Type.Integer()),
    DiscoveryData: Type.Optional(Type.Unknown()),
  }),
  requestPool: Type.Object({
    AddressSpace: Type.Optional(Type.String()),
    Pool: Type.Optional(Type.String()),
    SubPool: Type.Optional(Type.String()),
    Options: Type.Optional(Nullable(StringMap)),
    V6: Type.Optional(Type.Boolean()),
  }),
  pool: Type.Object({ PoolID: Type.String({ minLength: 1, maxLength: 200 }) }),
  requestAddress: Type.Object({
    PoolID: Type.String({ minLength: 1, maxLength: 200 }),
    Address: Type.Optional(Type.String()),
    Options: Type.Optional(Nullable(StringMap)),
  }),
  releaseAddress: Type.Object({
    PoolID: Type.String({ minLength: 1, maxLength: 200 }),
    Address: Type.String(),
  }),
} as const
