import { performance } from 'node:perf_hooks'
import { errorMessage } from '../errors.js'

/** One check of the demo, with its timing. */
export interface CheckResult {
  name: string
  ok: boolean
  ms: number
  /** The answer (a reply, a round-trip time) or the error. */
  detail: string
}

/** Runs a check, timing it; a thrown error is a failed check. */
export async function check(name: string, fn: () => Promise<string>): Promise<CheckResult> {
  const t0 = performance.now()
  try {
    const detail = await fn()
    return { name, ok: true, ms: performance.now() - t0, detail }
  } catch (err) {
    return { name, ok: false, ms: performance.now() - t0, detail: errorMessage(err) }
  }
}

/** `ms` with one decimal, right-aligned. */
export function formatMs(ms: number): string {
  return `${ms.toFixed(1).padStart(7)} ms`
}

/** `  ok    <name>   <time>   <detail>`. */
export function formatCheck(r: CheckResult, nameWidth: number): string {
  return `  ${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(nameWidth)}  ${formatMs(r.ms)}   ${r.detail}\n`
}
