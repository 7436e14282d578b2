import { type TSchema, Type } from 'typebox'
import {
  ConnectSchema,
  DisconnectSchema,
  EndpointCreateSchema,
  EndpointParamsSchema,
  EventsQuerySchema,
  NetworkCreateSchema,
  NetworkParamsSchema,
  NetworkPruneSchema,
  PortsQuerySchema,
  SandboxCreateSchema,
  SandboxParamsSchema,
} from './bodies.js'
import {
  EndpointSchema,
  ErrorBodySchema,
  EventSchema,
  InfoSchema,
  NetworkPruneReportSchema,
  NetworkSchema,
  PortSchema,
  ReconcileReportSchema,
  ResolverSchema,
  SandboxSchema,
  VersionSchema,
} from './objects.js'

/** An HTTP method the daemon answers. */
export type RouteMethod = 'GET' | 'POST' | 'DELETE'

/** An answer other than JSON: plain text or a stream of JSON lines. */
export interface MediaAnswer {
  media: 'text/plain' | 'application/x-ndjson'
  /** The schema of the text (a string) or of each line. */
  schema: TSchema
}

/** One route of the REST API: everything the daemon registers and the OpenAPI document says. */
export interface RouteSpec {
  /** The client's method name and the OpenAPI `operationId`. */
  operationId: string
  method: RouteMethod
  /** Fastify's form: `/v1/networks/:network`. */
  url: string
  summary: string
  tag: 'system' | 'networks' | 'endpoints' | 'sandboxes' | 'ports'
  params?: TSchema
  querystring?: TSchema
  body?: TSchema
  /** The success status and what it carries (JSON by default). */
  status: 200 | 201
  answer: TSchema | MediaAnswer
  /** The error statuses it may answer, besides 400, 500 and 503 (which every route may). */
  errors: readonly (404 | 409 | 415)[]
}

const PARAM = [404] as const
const MUTATION = [404, 409, 415] as const
const CREATE = [409, 415] as const

/**
 * Every route of the daemon's REST API by `operationId`, in the order the OpenAPI document lists
 * them. The daemon registers exactly these (with these schemas); `@cnm/client` has one method per
 * `operationId`.
 */
export const API = {
  ping: {
    method: 'GET',
    url: '/_ping',
    summary: 'Whether the daemon answers: the text OK',
    tag: 'system',
    status: 200,
    answer: { media: 'text/plain', schema: Type.Literal('OK') },
    errors: [],
  },
  version: {
    method: 'GET',
    url: '/v1/version',
    summary: "The daemon's version",
    tag: 'system',
    status: 200,
    answer: VersionSchema,
    errors: [],
  },
  info: {
    method: 'GET',
    url: '/v1/info',
    summary: 'The daemon: versions, store, firewall backend, listeners, counts',
    tag: 'system',
    status: 200,
    answer: InfoSchema,
    errors: [],
  },
  openapi: {
    method: 'GET',
    url: '/v1/openapi.json',
    summary: 'This document (OpenAPI 3.1)',
    tag: 'system',
    status: 200,
    answer: Type.Object({ openapi: Type.String() }, { additionalProperties: true }),
    errors: [],
  },
  events: {
    method: 'GET',
    url: '/v1/events',
    summary: 'Changes as they happen, one JSON object a line, until the client closes the stream',
    tag: 'system',
    querystring: EventsQuerySchema,
    status: 200,
    answer: { media: 'application/x-ndjson', schema: EventSchema },
    errors: [],
  },
  listNetworks: {
    method: 'GET',
    url: '/v1/networks',
    summary: 'Every network',
    tag: 'networks',
    status: 200,
    answer: Type.Array(NetworkSchema),
    errors: [],
  },
  createNetwork: {
    method: 'POST',
    url: '/v1/networks',
    summary: 'Creates a network',
    tag: 'networks',
    body: NetworkCreateSchema,
    status: 201,
    answer: NetworkSchema,
    errors: CREATE,
  },
  pruneNetworks: {
    method: 'POST',
    url: '/v1/networks/prune',
    summary: 'Removes every network without endpoints that matches the filters; answers the names removed',
    tag: 'networks',
    body: NetworkPruneSchema,
    status: 200,
    answer: NetworkPruneReportSchema,
    errors: [415],
  },
  inspectNetwork: {
    method: 'GET',
    url: '/v1/networks/:network',
    summary: 'A network by name, id or unique id prefix',
    tag: 'networks',
    params: NetworkParamsSchema,
    status: 200,
    answer: NetworkSchema,
    errors: PARAM,
  },
  removeNetwork: {
    method: 'DELETE',
    url: '/v1/networks/:network',
    summary: 'Removes a network without endpoints; answers it as it was',
    tag: 'networks',
    params: NetworkParamsSchema,
    status: 200,
    answer: NetworkSchema,
    errors: MUTATION,
  },
  listNetworkEndpoints: {
    method: 'GET',
    url: '/v1/networks/:network/endpoints',
    summary: 'The endpoints of a network',
    tag: 'endpoints',
    params: NetworkParamsSchema,
    status: 200,
    answer: Type.Array(EndpointSchema),
    errors: PARAM,
  },
  createEndpoint: {
    method: 'POST',
    url: '/v1/networks/:network/endpoints',
    summary: 'Creates an endpoint; with a sandbox, born inside it and joined',
    tag: 'endpoints',
    params: NetworkParamsSchema,
    body: EndpointCreateSchema,
    status: 201,
    answer: EndpointSchema,
    errors: MUTATION,
  },
  inspectEndpoint: {
    method: 'GET',
    url: '/v1/networks/:network/endpoints/:endpoint',
    summary: 'An endpoint of a network by name, id or unique id prefix',
    tag: 'endpoints',
    params: EndpointParamsSchema,
    status: 200,
    answer: EndpointSchema,
    errors: PARAM,
  },
  removeEndpoint: {
    method: 'DELETE',
    url: '/v1/networks/:network/endpoints/:endpoint',
    summary: 'Removes an endpoint (leaving its sandbox first); answers it as it was',
    tag: 'endpoints',
    params: EndpointParamsSchema,
    status: 200,
    answer: EndpointSchema,
    errors: MUTATION,
  },
  connect: {
    method: 'POST',
    url: '/v1/networks/:network/connect',
    summary: 'Connects a sandbox to a network: joins the named endpoint, or creates one inside the sandbox',
    tag: 'endpoints',
    params: NetworkParamsSchema,
    body: ConnectSchema,
    status: 201,
    answer: EndpointSchema,
    errors: MUTATION,
  },
  disconnect: {
    method: 'POST',
    url: '/v1/networks/:network/disconnect',
    summary: 'Disconnects a sandbox: its endpoints on the network leave it and are removed (answered as they were)',
    tag: 'endpoints',
    params: NetworkParamsSchema,
    body: DisconnectSchema,
    status: 200,
    answer: Type.Array(EndpointSchema),
    errors: MUTATION,
  },
  listEndpoints: {
    method: 'GET',
    url: '/v1/endpoints',
    summary: 'Every endpoint of every network',
    tag: 'endpoints',
    status: 200,
    answer: Type.Array(EndpointSchema),
    errors: [],
  },
  listSandboxes: {
    method: 'GET',
    url: '/v1/sandboxes',
    summary: 'Every sandbox',
    tag: 'sandboxes',
    status: 200,
    answer: Type.Array(SandboxSchema),
    errors: [],
  },
  createSandbox: {
    method: 'POST',
    url: '/v1/sandboxes',
    summary: 'Creates a sandbox: a network namespace bound under the sandbox directory (or at key)',
    tag: 'sandboxes',
    body: SandboxCreateSchema,
    status: 201,
    answer: SandboxSchema,
    errors: CREATE,
  },
  inspectSandbox: {
    method: 'GET',
    url: '/v1/sandboxes/:sandbox',
    summary: 'A sandbox by id, container id, key or unique id prefix',
    tag: 'sandboxes',
    params: SandboxParamsSchema,
    status: 200,
    answer: SandboxSchema,
    errors: PARAM,
  },
  sandboxResolver: {
    method: 'GET',
    url: '/v1/sandboxes/:sandbox/resolver',
    summary: "A sandbox's resolver configuration: its resolv.conf (the network's DNS server) and hosts",
    tag: 'sandboxes',
    params: SandboxParamsSchema,
    status: 200,
    answer: ResolverSchema,
    errors: PARAM,
  },
  removeSandbox: {
    method: 'DELETE',
    url: '/v1/sandboxes/:sandbox',
    summary: 'Removes a sandbox with the endpoints joined to or born in it; answers it with those endpoints',
    tag: 'sandboxes',
    params: SandboxParamsSchema,
    status: 200,
    answer: SandboxSchema,
    errors: MUTATION,
  },
  listPorts: {
    method: 'GET',
    url: '/v1/ports',
    summary: 'Published ports, of every network or one',
    tag: 'ports',
    querystring: PortsQuerySchema,
    status: 200,
    answer: Type.Array(PortSchema),
    errors: PARAM,
  },
  reconcile: {
    method: 'POST',
    url: '/v1/reconcile',
    summary: 'Compares the store with the kernel and repairs both ways',
    tag: 'system',
    status: 200,
    answer: ReconcileReportSchema,
    errors: [],
  },
} as const satisfies Record<string, Omit<RouteSpec, 'operationId'>>

/** The operation ids of the API. */
export type OperationId = keyof typeof API

/** {@link API} as a list, each route with its `operationId`. */
export const ROUTES: readonly RouteSpec[] = Object.entries(API).map(([operationId, spec]) => ({
  operationId,
  ...(spec as Omit<RouteSpec, 'operationId'>),
}))

/** Whether an answer is plain text or a stream (not a JSON document). */
export function isMediaAnswer(answer: RouteSpec['answer']): answer is MediaAnswer {
  return typeof (answer as MediaAnswer).media === 'string'
}

export { ErrorBodySchema }
