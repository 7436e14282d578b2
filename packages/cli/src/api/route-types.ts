import type { API, OperationId, RouteSpec } from '@cnm/client/schema'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Static, TSchema } from 'typebox'

type Part<S, K extends string> = S extends { [P in K]: infer T extends TSchema } ? Static<T> : undefined

/** What a route's handler gets: its params, query and body, typed by the route's schemas. */
export interface RouteInput<S> {
  params: Part<S, 'params'>
  query: Part<S, 'querystring'>
  body: Part<S, 'body'>
  req: FastifyRequest
  reply: FastifyReply
}

/** What a route's handler answers: the static type of its answer schema (JSON routes). */
export type RouteOutput<S> = S extends { answer: infer A }
  ? A extends { media: string }
    ? unknown
    : A extends TSchema
      ? Static<A>
      : unknown
  : unknown

/** One handler per operation of the API, typed by its route. */
export type RouteHandlers = {
  [K in OperationId]: (input: RouteInput<(typeof API)[K]>) => Promise<RouteOutput<(typeof API)[K]>>
}

export type { RouteSpec }
