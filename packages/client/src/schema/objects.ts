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
export type Endpoint = Static<typeof EndpointSchema>

/** A network. */
export const NetworkSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    driver: Type.String(),
    options: Type.Unknown({ description: "the driver's options, as given" }),
    device: Type.Optional(Type.String({ description: 'the host device carrying it (bridge, parent)' })),
    subnet: Type.Optional(Type.String()),
    gateway: Type.Optional(Type.String()),
    subnetIPv6: Type.Optional(Type.String()),
    gatewayIPv6: Type.Optional(Type.String()),
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
export type Network = Static<typeof NetworkSchema>

/** `POST /v1/networks/prune`: what was removed (Docker's `NetworksDeleted`) and what could not be. */
export const NetworkPruneReportSchema = Type.Object(
  {
    networksDeleted: Type.Array(Type.String(), { description: 'the names of the networks removed' }),
    errors: Type.Array(Type.String(), { description: 'networks that matched but could not be removed, and why' }),
  },
  { ...strict, title: 'NetworkPruneReport' },
)
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
export type ReconcileReport = Static<typeof ReconcileReportSchema>

/** `GET /v1/version`. */
export const VersionSchema = Type.Object(
  { version: Type.String({ description: "the daemon's version (@cnm/cli)" }) },
  { ...strict, title: 'Version' },
)
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
export type ErrorBody = Static<typeof ErrorBodySchema>
