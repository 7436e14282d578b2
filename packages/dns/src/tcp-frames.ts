/**
 * DNS over TCP's framing (RFC 1035 4.2.2, RFC 7766): each message is preceded by its length as
 * two bytes, network order. This is transport, not message encoding: the messages inside are
 * dns-packet's.
 */
export function frame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(message.length + 2)
  out.writeUInt16BE(message.length, 0)
  message.copy(out, 2)
  return out
}

/** Collects a TCP stream's bytes and hands out whole messages. */
export class FrameReader {
  #buffer: Buffer = Buffer.alloc(0)

  /** Adds received bytes; returns the messages now complete, in order. */
  push(chunk: Buffer): Buffer[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    const out: Buffer[] = []
    while (this.#buffer.length >= 2) {
      const len = this.#buffer.readUInt16BE(0)
      if (this.#buffer.length < len + 2) break
      out.push(this.#buffer.subarray(2, len + 2))
      this.#buffer = this.#buffer.subarray(len + 2)
    }
    return out
  }

  /** Bytes held for a message not complete yet. */
  get pending(): number {
    return this.#buffer.length
  }
}
