import type { Output } from '../output.js'
import { type CheckResult, check, formatCheck } from './checks.js'
import { httpFromHost, httpFromSandbox, pingFromSandbox } from './traffic.js'

interface Box {
  name: string
  key: string
  ip: string
}

/** What the checks need to know. */
export interface CheckPlan {
  /** The sandbox whose port 80 is published. */
  web: Box
  client: Box
  hostAddress: string
  hostPort: number
}

/** The checks, each run and printed as it finishes. */
export async function runChecks(io: Output, stopIfAsked: () => void, p: CheckPlan): Promise<CheckResult[]> {
  const { web, client, hostAddress, hostPort } = p
  const published = (host: string): string => `http://${host}:${hostPort}/`
  const plan: [string, () => Promise<string>][] = [
    [`ping  ${client.name} -> ${web.name} ${web.ip}`, () => pingFromSandbox(client.key, web.ip)],
    [`ping  ${web.name} -> ${client.name} ${client.ip}`, () => pingFromSandbox(web.key, client.ip)],
    [`http  ${client.name} -> ${web.name} http://${web.ip}/`, () => httpFromSandbox(client.key, `http://${web.ip}/`)],
    [
      `http  ${web.name} -> ${client.name} http://${client.ip}/`,
      () => httpFromSandbox(web.key, `http://${client.ip}/`),
    ],
    [`http  host -> ${published(hostAddress)} (host address)`, () => httpFromHost(hostAddress, hostPort)],
    [`http  host -> ${published('127.0.0.1')} (localhost)`, () => httpFromHost('127.0.0.1', hostPort)],
    [`http  ${client.name} -> ${published(hostAddress)}`, () => httpFromSandbox(client.key, published(hostAddress))],
    [
      `http  ${web.name} -> ${published(hostAddress)} (hairpin)`,
      () => httpFromSandbox(web.key, published(hostAddress)),
    ],
  ]
  const width = Math.max(...plan.map(([name]) => name.length))
  io.out('\nchecks (a time includes starting the client program in the sandbox)\n')
  const results: CheckResult[] = []
  for (const [name, fn] of plan) {
    stopIfAsked()
    const r = await check(name, fn)
    io.out(formatCheck(r, width))
    results.push(r)
  }
  return results
}
