import * as packet from 'dns-packet'

/**
 * The message as dns-packet decodes it, with the two header fields its types leave out. Every
 * DNS message this package reads or writes goes through dns-packet: nothing is encoded by hand
 * (the one exception is the 16-bit id of an answer taken from the server's cache, see server.ts).
 */
export type Message = packet.DecodedPacket & { opcode?: string; rcode?: string }
export type Question = packet.Question
export type Answer = packet.Answer
export type OptAnswer = packet.OptAnswer

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** Extended (EDNS): an OPT version this server does not speak. */
  BADVERS: 16,
} as const

/** The UDP payload size this server advertises in its OPT record (the DNS flag day value). */
export const SERVER_UDP_SIZE = 1232
/** The largest answer to a client that sent no OPT record, over UDP. */
export const CLASSIC_UDP_SIZE = 512

/** What the client said in its OPT record, if it sent one. */
export interface ClientEdns {
  readonly present: boolean
  /** The largest UDP answer the client takes: its OPT size (at least 512), else 512. */
  readonly udpLimit: number
  readonly version: number
  readonly dnssecOk: boolean
}

const NO_EDNS: ClientEdns = { present: false, udpLimit: CLASSIC_UDP_SIZE, version: 0, dnssecOk: false }

/** Decodes a message; undefined when dns-packet cannot read it. */
export function decodeMessage(buf: Buffer): Message | undefined {
  if (buf.length < 12) return undefined
  try {
    return packet.decode(buf) as Message
  } catch {
    return undefined
  }
}

/** The client's EDNS parameters (the first OPT record in the additional section). */
export function clientEdns(q: Message): ClientEdns {
  const additionals = q.additionals
  if (!additionals || additionals.length === 0) return NO_EDNS
  for (const a of additionals) {
    if (a.type === 'OPT') {
      const opt = a as OptAnswer
      return {
        present: true,
        udpLimit: Math.max(CLASSIC_UDP_SIZE, Math.min(opt.udpPayloadSize ?? CLASSIC_UDP_SIZE, 65535)),
        version: opt.ednsVersion ?? 0,
        dnssecOk: ((opt.flags ?? 0) & packet.DNSSEC_OK) !== 0,
      }
    }
  }
  return NO_EDNS
}

export interface ResponseSpec {
  rcode: number
  answers?: Answer[]
  authoritative: boolean
  recursionAvailable: boolean
  truncated?: boolean
}

/**
 * The response to `q`: its id, its question as asked (case kept), RD and CD copied, the OPT
 * record answered when the client sent one (our size, its DO bit, an extended rcode if any).
 */
export function encodeResponse(q: Message, spec: ResponseSpec, edns: ClientEdns, id = q.id ?? 0): Buffer {
  let flags = spec.rcode & 0xf
  if (spec.authoritative) flags |= packet.AUTHORITATIVE_ANSWER
  if (spec.recursionAvailable) flags |= packet.RECURSION_AVAILABLE
  if (spec.truncated) flags |= packet.TRUNCATED_RESPONSE
  if (q.flag_rd) flags |= packet.RECURSION_DESIRED
  if (q.flag_cd) flags |= packet.CHECKING_DISABLED
  const additionals: Answer[] = []
  if (edns.present) {
    additionals.push({
      type: 'OPT',
      name: '.',
      udpPayloadSize: SERVER_UDP_SIZE,
      extendedRcode: spec.rcode >> 4,
      ednsVersion: 0,
      flags: edns.dnssecOk ? packet.DNSSEC_OK : 0,
      flag_do: edns.dnssecOk,
      options: [],
    })
  }
  return packet.encode({
    id,
    type: 'response',
    flags,
    questions: q.questions ?? [],
    answers: spec.truncated ? [] : (spec.answers ?? []),
    additionals,
  })
}

/** A FORMERR/NOTIMP/SERVFAIL/REFUSED answer without records (never throws: undefined if unencodable). */
export function encodeError(
  q: Message,
  rcode: number,
  edns: ClientEdns,
  recursionAvailable: boolean,
): Buffer | undefined {
  try {
    return encodeResponse(q, { rcode, authoritative: false, recursionAvailable }, edns)
  } catch {
    try {
      // The question itself could not be encoded back (a label dns-packet read but cannot write).
      return encodeResponse({ ...q, questions: [] }, { rcode, authoritative: false, recursionAvailable }, edns)
    } catch {
      return undefined
    }
  }
}

/** Whether `res` (a decoded upstream message) answers `q`: a response, same id, same question. */
export function answersQuery(q: Message, res: Message): boolean {
  if (res.type !== 'response' || res.id !== q.id) return false
  const a = q.questions?.[0]
  const b = res.questions?.[0]
  if (!a) return true
  if (!b) return res.flag_tc || res.rcode !== 'NOERROR'
  return a.type === b.type && a.name.toLowerCase() === b.name.toLowerCase()
}
