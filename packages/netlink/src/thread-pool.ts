import { stat } from 'node:fs/promises'

let started: Promise<void> | undefined

/**
 * Starts libuv's thread pool. Its threads are created on first use, and a thread created while
 * the main thread is switched into another network namespace would stay there for good, so every
 * switch awaits this first.
 */
export function ensureThreadPool(): Promise<void> {
  started ??= stat('/').then(() => undefined)
  return started
}
