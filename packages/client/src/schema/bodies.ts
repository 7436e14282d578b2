import { type Static, Type } from 'typebox'
import { TransportProtocolSchema } from './objects.js'

// What the cnm daemon accepts: request bodies, path parameters and query strings. A field not
// listed is refused (400 ERR_INVALID_REQUEST, naming it), as is a field of the wrong type.

const strict = { additionalProperties: false } as const
const OneOrMany = (description: string) =>
  Type.Union([Type.String(), Type.Array(Type.String())], { description: `${description} (a string or strings)` })

/** `POST /v1/networks`. Docker's `network create` flags, by their long names. */
export const NetworkCreateSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'the network name' }),
    driver: Type.Optional(Type.String({ minLength: 1, description: 'bridge (default), macvlan, null' })),
    subnet: Type.Optional(OneOrMany('subnets, at most one per family')),
    gateway: Type.Optional(OneOrMany("gateways of the subnets (default: each subnet's first host)")),
    ipRange: Type.Optional(
      OneOrMany('allocate addresses from this range of the subnet, at most one per family (IPv4, IPv6)'),
    ),
    auxAddress: Type.Optional(
      Type.Record(Type.String({ minLength: 1 }), Type.String(), {
        description:
          "Docker's --aux-address: name → address of a subnet, reserved (never handed out), e.g. { router: '10.1.0.2' }",
      }),
    ),
    labels: Type.Optional(
      Type.Record(Type.String({ minLength: 1 }), Type.String(), {
        description: "Docker's --label: free-form key → value metadata, shown by inspect and matched by filters",
      }),
    ),
    ipv6: Type.Optional(Type.Boolean()),
    internal: Type.Optional(Type.Boolean()),
    icc: Type.Optional(Type.Boolean({ description: 'inter-container communication (default true)' })),
    mtu: Type.Optional(Type.Integer({ minimum: 68, maximum: 65535 })),
    options: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'any other driver option, typed (bridgeName, …)' }),
    ),
  },
  { ...strict, title: 'NetworkCreate' },
)
/**
 * The body of {@link CnmApi.createNetwork}: Docker's `network create` flags by their long names.
 * Only `name` is required; `driver` defaults to `bridge`, subnets to a free pool of the daemon,
 * `gateway` to each subnet's first host, `icc` to `true`, `mtu` (68-65535) to the kernel's.
 * A field not listed is refused (400 `ERR_INVALID_REQUEST`).
 */
export type NetworkCreate = Static<typeof NetworkCreateSchema>

/** `POST /v1/networks/prune`: Docker's `network prune --filter`s (all must match). */
export const NetworkPruneSchema = Type.Object(
  {
    until: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'only networks created before this time: a Unix timestamp, an RFC 3339 date, or a duration before now (10m, 24h)',
      }),
    ),
    label: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { description: 'only networks with each label: KEY or KEY=VALUE' }),
    ),
    labelNot: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: "only networks without these labels (Docker's label!=): KEY or KEY=VALUE",
      }),
    ),
  },
  { ...strict, title: 'NetworkPrune' },
)
/**
 * The filters of {@link CnmApi.pruneNetworks} (Docker's `network prune --filter`); every filter
 * given must match, and no filter at all removes every network without endpoints.
 */
export type NetworkPrune = Static<typeof NetworkPruneSchema>

/** A port to publish, in the driver's form (the structured twin of `publish`). */
export const PortBindingSchema = Type.Object(
  {
    proto: TransportProtocolSchema,
    containerPort: Type.Integer({ minimum: 1, maximum: 65535 }),
    containerPortEnd: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    hostIP: Type.Optional(Type.String({ description: 'absent: every address' })),
    hostPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: '0 or absent: any free port' })),
    hostPortEnd: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  },
  { ...strict, title: 'PortBinding' },
)
/**
 * One port to publish in structured form (what `-p` parses into): `containerPort` (1-65535, with
 * `containerPortEnd` for a range), `hostPort` 0 or absent for any free port, `hostIP` absent for
 * every address.
 */
export type PortBinding = Static<typeof PortBindingSchema>

const endpointOptionFields = {
  publish: Type.Optional(
    Type.Union([Type.String(), Type.Array(Type.String())], {
      description: "ports to publish, Docker's -p syntax: [hostIP:][hostPort:]containerPort[/proto], ranges allowed",
    }),
  ),
  portBindings: Type.Optional(Type.Array(PortBindingSchema)),
  ip: Type.Optional(Type.String({ description: 'preferred IPv4 address' })),
  ip6: Type.Optional(Type.String({ description: 'preferred IPv6 address' })),
  macAddress: Type.Optional(Type.String()),
  aliases: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
      maxItems: 64,
      description: "DNS names the endpoint also answers to on its network (Docker's --network-alias)",
    }),
  ),
}

/** `POST /v1/networks/{network}/endpoints`. */
export const EndpointCreateSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    sandbox: Type.Optional(Type.String({ description: 'create it inside this sandbox and join it' })),
    ...endpointOptionFields,
  },
  { ...strict, title: 'EndpointCreate' },
)
/**
 * The body of {@link CnmApi.createEndpoint}: the endpoint's `name`, an optional `sandbox` to be born
 * in and join, and its options (`publish` in Docker's `-p` syntax, `portBindings`, preferred `ip` /
 * `ip6`, `macAddress`, DNS `aliases`).
 */
export type EndpointCreate = Static<typeof EndpointCreateSchema>

/** `POST /v1/networks/{network}/connect`. */
export const ConnectSchema = Type.Object(
  {
    sandbox: Type.String({ minLength: 1, description: 'sandbox id, container id or key' }),
    endpoint: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'join this existing endpoint, else create one by that name (default: the container id)',
      }),
    ),
    ...endpointOptionFields,
  },
  { ...strict, title: 'Connect' },
)
/**
 * The body of {@link CnmApi.connect}: the `sandbox` (id, container id or key), the `endpoint` to join
 * or create (default: the container id), and the same options as {@link EndpointCreate} for an
 * endpoint it creates.
 */
export type Connect = Static<typeof ConnectSchema>

/** `POST /v1/networks/{network}/disconnect`. */
export const DisconnectSchema = Type.Object(
  { sandbox: Type.String({ minLength: 1, description: 'sandbox id, container id or key' }) },
  { ...strict, title: 'Disconnect' },
)
/** The body of {@link CnmApi.disconnect}: the `sandbox` (id, container id or key) to take off the network. */
export type Disconnect = Static<typeof DisconnectSchema>

/** `POST /v1/sandboxes`. */
export const SandboxCreateSchema = Type.Object(
  {
    containerID: Type.String({ minLength: 1, description: 'letters, digits, "_", "." or "-"' }),
    key: Type.Optional(Type.String({ description: 'bind the namespace at this absolute path' })),
    name: Type.Optional(
      Type.String({ minLength: 1, description: "the container's name: its endpoints answer to it in DNS" }),
    ),
  },
  { ...strict, title: 'SandboxCreate' },
)
/**
 * The body of {@link CnmApi.createSandbox}: the `containerID`, an optional absolute `key` to bind the
 * namespace at, and the container's `name` (a DNS name of its endpoints).
 */
export type SandboxCreate = Static<typeof SandboxCreateSchema>

/** `{network}`: a network's name, id or unique id prefix. */
export const NetworkParamsSchema = Type.Object({ network: Type.String({ minLength: 1 }) }, strict)
/** `{network}` and `{endpoint}` (within that network: name, id or unique id prefix). */
export const EndpointParamsSchema = Type.Object(
  { network: Type.String({ minLength: 1 }), endpoint: Type.String({ minLength: 1 }) },
  strict,
)
/** `{sandbox}`: id, container id, key (URL-encoded) or unique id prefix. */
export const SandboxParamsSchema = Type.Object({ sandbox: Type.String({ minLength: 1 }) }, strict)

/** `GET /v1/ports?network=`. */
export const PortsQuerySchema = Type.Object(
  { network: Type.Optional(Type.String({ minLength: 1, description: 'only this network' })) },
  strict,
)

/** `GET /v1/events?type=`. */
export const EventsQuerySchema = Type.Object(
  {
    type: Type.Optional(
      Type.Union([Type.Literal('network'), Type.Literal('endpoint'), Type.Literal('sandbox')], {
        description: 'only events of this type',
      }),
    ),
  },
  strict,
)
