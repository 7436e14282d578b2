import { type Static, Type } from 'typebox'

// What the cnm daemon answers: the JSON shapes of its objects. Every object lists every field it
// may have (`additionalProperties: false`): the route test checks each answer against these, so a
// field the daemon adds without describing it here fails a test.

const strict = { additionalProperties: false } as const

/** `tcp`, `udp` or `sctp`. */
export const TransportProtocolSchema = Type.Union([Type.Literal('tcp'), Type.Literal('udp'), Type.Literal('sctp')], {
  description: 'a transport protocol',
})

const Port = Type.Integer({ minimum: 0, maximum: 65535 })

/** A published port: the host side and the container side, with the endpoint and network it belongs to. */
export const PortSchema = Type.Object(
  {
    network: Type.String({ description: 'network name' }),
    endpoint: Type.String({ description: 'endpoint name' }),
    proto: TransportProtocolSchema,
    containerIP: Type.String(),
    containerPort: Port,
    containerPortEnd: Port,
    hostIP: Type.String({ description: '0.0.0.0 or :: for every address' }),
    hostPort: Port,
    hostPortEnd: Port,
  },
  { ...strict, title: 'Port' },
)
/**
 * A published port as the daemon reports it: host side (`hostIP` `0.0.0.0` or `::` for every
 * address, `hostPort`..`hostPortEnd`) and container side (`containerIP`, `containerPort`..
 * `containerPortEnd`), with the network and endpoint names it belongs to.
 */
export type Port = Static<typeof PortSchema>

const InterfaceSchema = Type.Object(
  {
    srcName: Type.String(),
    dstName: Type.String(),
    address: Type.Optional(Type.String()),
    addressIPv6: Type.Optional(Type.String()),
    macAddress: Type.Optional(Type.String()),
    mtu: Type.Optional(Type.Integer()),
  },
  strict,
)

const StaticRouteSchema = Type.Object(
  {
    destination: Type.String(),
    nextHop: Type.Optional(Type.String()),
    interfaceName: Type.Optional(Type.String()),
  },
  strict,
)

/** What a sandbox must configure for an endpoint: interfaces, gateways, routes. */
export const SandboxInfoSchema = Type.Object(
  {
    interfaces: Type.Array(InterfaceSchema),
    gateway: Type.Optional(Type.String()),
    gatewayIPv6: Type.Optional(Type.String()),
    staticRoutes: Type.Optional(Type.Array(StaticRouteSchema)),
  },
  strict,
)

/** An endpoint: a network interface of a sandbox on a network. */
export const EndpointSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    aliases: Type.Array(Type.String(), { description: 'DNS names it also answers to on its network' }),
    network: Type.Object({ id: Type.String(), name: Type.String() }, strict),
    sandboxKey: Type.String({ description: 'the namespace it was born in ("" when none)' }),
    joined: Type.Optional(
      Type.Object({ sandboxId: Type.String(), key: Type.String(), interface: Type.String() }, strict),
    ),
    macAddress: Type.Optional(Type.String()),
    ipv4: Type.Optional(Type.String()),
    ipv6: Type.Optional(Type.String()),
    sandboxInfo: SandboxInfoSchema,
    ports: Type.Array(PortSchema),
  },
  { ...strict, title: 'Endpoint' },
)
/**
 * An endpoint as the daemon reports it: its network, plain addresses (`ipv4`/`ipv6`, no prefix length), MAC,
 * DNS aliases, the sandbox it joined (`joined`, absent when it has not), what that sandbox
 * configures for it (`sandboxInfo`) and its published ports.
 */
export type Endpoint = Static<typeof EndpointSchema>

/** A network. */
export const NetworkSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    driver: Type.String(),
    options: Type.Unknown({ description: "the driver's options, as given" }),
    ipam: Type.Optional(
      Type.Unknown({
        description:
          'its IPAM data as given: { v4?, v6? }, each a list of { subnet, gateway?, ipRange?, auxAddresses? } (absent: none given)',
      }),
    ),
    device: Type.Optional(Type.String({ description: 'the host device carrying it (bridge, parent)' })),
    subnet: Type.Optional(Type.String()),
    gateway: Type.Optional(Type.String()),
    subnetIPv6: Type.Optional(Type.String()),
    gatewayIPv6: Type.Optional(Type.String()),
    subnets: Type.Optional(
      Type.Array(Type.Object({ subnet: Type.String(), gateway: Type.Optional(Type.String()) }, strict), {
        description:
          "every subnet with its gateway, IPv4 first (Docker's IPAM.Config; several per family when given): the first of each family is subnet/subnetIPv6",
      }),
    ),
    internal: Type.Boolean(),
    icc: Type.Boolean(),
    labels: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: 'its labels (network create --label); {} when none' }),
    ),
    created: Type.Optional(Type.String({ description: 'when it was created (RFC 3339)' })),
    endpoints: Type.Array(EndpointSchema),
  },
  { ...strict, title: 'Network' },
)
/**
 * A network as the daemon reports it: id, name, driver and its options as given, the host device
 * carrying it, subnets and gateways per family, `internal`, `icc`, labels, creation time (RFC 3339)
 * and its endpoints.
 */
export type Network = Static<typeof NetworkSchema>

/** `POST /v1/networks/prune`: what was removed (Docker's `NetworksDeleted`) and what could not be. */
export const NetworkPruneReportSchema = Type.Object(
  {
    networksDeleted: Type.Array(Type.String(), { description: 'the names of the networks removed' }),
    errors: Type.Array(Type.String(), { description: 'networks that matched but could not be removed, and why' }),
  },
  { ...strict, title: 'NetworkPruneReport' },
)
/**
 * What {@link CnmApi.pruneNetworks} did: the names of the networks removed, and one message for each
 * matching network that could not be removed.
 */
export type NetworkPruneReport = Static<typeof NetworkPruneReportSchema>

/** A sandbox (a container's network namespace). */
export const SandboxSchema = Type.Object(
  {
    id: Type.String(),
    containerID: Type.String(),
    name: Type.Optional(Type.String({ description: "the container's name (a DNS name of its endpoints)" })),
    key: Type.String({ description: 'the bound network namespace' }),
    endpoints: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), network: Type.String() }, strict), {
      description: 'endpoints joined to it',
    }),
  },
  { ...strict, title: 'Sandbox' },
)
/**
 * A sandbox (a container's network namespace) as the daemon reports it: id, container id and name,
 * the namespace path (`key`) and the endpoints joined to it.
 */
export type Sandbox = Static<typeof SandboxSchema>

/** `GET /v1/sandboxes/{sandbox}/resolver`: what a runtime writes as the container's /etc/resolv.conf and /etc/hosts. */
export const ResolverSchema = Type.Object(
  {
    sandbox: Type.String({ description: 'the sandbox id' }),
    dns: Type.Boolean({
      description:
        "whether a cnm DNS server serves it (false: no network of it has one, or cnm runs in process: the host's servers)",
    }),
    nameservers: Type.Array(Type.String()),
    search: Type.Array(Type.String()),
    options: Type.Array(Type.String()),
    resolvConf: Type.String({ description: 'the resolv.conf text' }),
    hosts: Type.String({ description: 'the hosts text' }),
    files: Type.Optional(
      Type.Object(
        { resolvConf: Type.String(), hosts: Type.String() },
        { ...strict, description: 'where the daemon wrote them (what `cnm exec` bind-mounts)' },
      ),
    ),
  },
  { ...strict, title: 'Resolver' },
)
/**
 * A sandbox's resolver configuration, as {@link CnmApi.sandboxResolver} answers it: the
 * `resolv.conf` and `hosts` texts a runtime writes into the container, the name servers, search
 * domains and options they hold, whether a cnm DNS server serves the sandbox, and where the daemon
 * wrote the files.
 */
export type Resolver = Static<typeof ResolverSchema>

/** What a reconcile found and did. */
export const ReconcileReportSchema = Type.Object(
  {
    rebuiltNetworks: Type.Array(Type.String()),
    droppedEndpoints: Type.Array(Type.String()),
    droppedSandboxes: Type.Array(Type.String()),
    removedLinks: Type.Array(Type.String()),
    removedFirewallNetworks: Type.Array(Type.String()),
    removedFirewallPorts: Type.Array(Type.String()),
    removedNamespaces: Type.Array(Type.String()),
    errors: Type.Array(Type.String()),
  },
  { ...strict, title: 'ReconcileReport' },
)
/**
 * What {@link CnmApi.reconcile} found and did: networks rebuilt, endpoint and sandbox records dropped,
 * links, firewall rules and namespaces removed (each a list of names), and the repairs that failed.
 */
export type ReconcileReport = Static<typeof ReconcileReportSchema>

/** `GET /v1/version`. */
export const VersionSchema = Type.Object(
  { version: Type.String({ description: "the daemon's version (@cnm/cli)" }) },
  { ...strict, title: 'Version' },
)
/** The answer of {@link CnmApi.version}: the daemon's `@cnm/cli` version. */
export type Version = Static<typeof VersionSchema>

/** `GET /v1/info`: what `cnm info` prints. */
export const InfoSchema = Type.Object(
  {
    mode: Type.Union([Type.Literal('daemon'), Type.Literal('in-process')]),
    version: Type.String(),
    node: Type.String({ description: "Node's version" }),
    pid: Type.Integer(),
    store: Type.String({ description: 'the store (":memory:" when in memory)' }),
    sandboxDir: Type.String(),
    firewall: Type.String({ description: 'the firewall backend (nftables, iptables, none) or "unknown"' }),
    drivers: Type.Array(Type.String()),
    listeners: Type.Array(Type.String(), { description: 'where the daemon listens (unix:…, tcp://…)' }),
    networks: Type.Integer(),
    endpoints: Type.Integer(),
    sandboxes: Type.Integer(),
    ports: Type.Integer({ description: 'published ports' }),
    heldPorts: Type.Integer({ description: 'host ports this process holds with a bound socket' }),
  },
  { ...strict, title: 'Info' },
)
/**
 * The answer of {@link CnmApi.info}: mode (`daemon` or `in-process`), versions, pid, store path
 * (`:memory:` in memory), sandbox directory, firewall backend, drivers, listeners and counts.
 */
export type Info = Static<typeof InfoSchema>

/** The kinds of event `GET /v1/events` streams. */
export const EventActionSchema = Type.Union([
  Type.Literal('create'),
  Type.Literal('delete'),
  Type.Literal('connect'),
  Type.Literal('disconnect'),
  Type.Literal('publish'),
  Type.Literal('unpublish'),
])
/**
 * What happened to the object of an {@link Event}: `create`, `delete`, `connect`, `disconnect`,
 * `publish`, `unpublish`.
 */
export type EventAction = Static<typeof EventActionSchema>

/** One change, as `GET /v1/events` streams it (one JSON object a line). */
export const EventSchema = Type.Object(
  {
    time: Type.String({ description: 'ISO 8601, milliseconds' }),
    type: Type.Union([Type.Literal('network'), Type.Literal('endpoint'), Type.Literal('sandbox')]),
    action: EventActionSchema,
    id: Type.String({ description: 'the id of the network, endpoint or sandbox' }),
    name: Type.String({ description: 'its name (a sandbox: its container id)' }),
    network: Type.Optional(Type.String({ description: 'the network (name) of an endpoint event' })),
    sandbox: Type.Optional(Type.String({ description: 'the sandbox (container id) of a connect or disconnect' })),
    port: Type.Optional(PortSchema),
  },
  { ...strict, title: 'Event' },
)
/**
 * One change as {@link CnmClient.events} yields it: when (ISO 8601 with milliseconds), the object's
 * type, id and name, the action, and for endpoint events the network, sandbox or port concerned.
 */
export type Event = Static<typeof EventSchema>

/** Every error answer: `{ error: { code, kind, message } }`. */
export const ErrorBodySchema = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: 'stable: ERR_… or an errno name' }),
        kind: Type.Union([
          Type.Literal('invalid'),
          Type.Literal('not-found'),
          Type.Literal('conflict'),
          Type.Literal('unsupported'),
          Type.Literal('kernel'),
          Type.Literal('unavailable'),
          Type.Literal('internal'),
        ]),
        message: Type.String(),
      },
      strict,
    ),
  },
  { ...strict, title: 'Error' },
)
/**
 * The body of every error answer, `{ error: { code, kind, message } }`; {@link CnmClientError} is
 * built from it.
 */
export type ErrorBody = Static<typeof ErrorBodySchema>
