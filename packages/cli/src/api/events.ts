import type { Event } from '@cnm/client'
import type { FastifyBaseLogger, FastifyReply } from 'fastify'

type Subscriber = { reply: FastifyReply; type: Event['type'] | undefined }

/**
 * The daemon's changes, as they happen: every subscriber (an open `GET /v1/events`) gets each
 * event as one JSON line; each is also logged. Only changes made through this daemon are seen.
 */
export class EventBus {
  readonly #subscribers = new Set<Subscriber>()
  /** Where each event is logged (a server's logger). */
  log: FastifyBaseLogger | undefined

  constructor(log?: FastifyBaseLogger) {
    this.log = log
  }

  /** Stamps an event with the time, logs it and sends it to every subscriber. */
  emit(e: Omit<Event, 'time'>): void {
    const event: Event = { time: new Date().toISOString(), ...e }
    this.log?.info({ event }, `${event.type} ${event.action} ${event.name}`)
    if (this.#subscribers.size === 0) return
    const line = `${JSON.stringify(event)}\n`
    for (const s of this.#subscribers) {
      if (s.type === undefined || s.type === event.type) s.reply.raw.write(line)
    }
  }

  /** Streams events to `reply` until the client goes (or {@link close}). */
  subscribe(reply: FastifyReply, type: Event['type'] | undefined): void {
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' })
    res.flushHeaders()
    const sub = { reply, type }
    this.#subscribers.add(sub)
    res.once('close', () => this.#subscribers.delete(sub))
  }

  /** How many streams are open. */
  get subscribers(): number {
    return this.#subscribers.size
  }

  /** Ends every stream (the daemon is stopping). */
  close(): void {
    for (const s of this.#subscribers) s.reply.raw.end()
    this.#subscribers.clear()
  }
}
