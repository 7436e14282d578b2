/** One setup step: what it does, and how to undo exactly that. */
export interface Step<C> {
  readonly name: string
  run(ctx: C): Promise<void>
  undo(ctx: C): Promise<void>
}

/**
 * Runs the steps in order; when one fails, undoes it (whatever part of it ran: every undo checks
 * what its step recorded as done) and the ones before it, in reverse, and rethrows the original
 * error (undo failures are attached as `undoErrors`).
 */
export async function runSteps<C>(steps: readonly Step<C>[], ctx: C): Promise<void> {
  const done: Step<C>[] = []
  for (const step of steps) {
    try {
      done.push(step)
      await step.run(ctx)
    } catch (err) {
      const undoErrors = await undoSteps(done, ctx)
      if (undoErrors.length > 0 && typeof err === 'object' && err !== null) Object.assign(err, { undoErrors })
      throw err
    }
  }
}

/** Undoes steps in reverse, running every one; returns every failure. */
export async function undoSteps<C>(steps: readonly Step<C>[], ctx: C): Promise<unknown[]> {
  const errors: unknown[] = []
  for (const step of [...steps].reverse()) {
    try {
      await step.undo(ctx)
    } catch (err) {
      errors.push(err)
    }
  }
  return errors
}

/** For undo steps: an object already gone (no such device or address) is what undo wanted. */
export function ignoreGone(err: unknown): void {
  const code = (err as { code?: string })?.code
  if (code !== 'ENODEV' && code !== 'EADDRNOTAVAIL') throw err
}
