import { hasErrorCode, UndoStack, withUndo } from '@cnm/driverapi'

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
  await withUndo(async (undo) => {
    for (const step of steps) {
      undo.push(() => step.undo(ctx))
      await step.run(ctx)
    }
  })
}

/** Undoes steps in reverse, running every one; returns every failure. */
export function undoSteps<C>(steps: readonly Step<C>[], ctx: C): Promise<unknown[]> {
  const undo = new UndoStack()
  for (const step of steps) undo.push(() => step.undo(ctx))
  return undo.undo()
}

/** For undo steps: an object already gone (no such device or address) is what undo wanted. */
export function ignoreGone(err: unknown): void {
  if (!hasErrorCode(err, 'ENODEV') && !hasErrorCode(err, 'EADDRNOTAVAIL')) throw err
}
