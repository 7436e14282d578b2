/**
 * The inverse of one step: undoes exactly what that step did (and checks what is there, so it also
 * undoes a step that only partly ran). It may return a promise.
 */
export type Inverse = () => unknown

/**
 * Runs every step, in order, each once, never stopping at a failure (a teardown); returns every
 * failure, in the order they happened (empty when all succeeded).
 */
export async function runAll(steps: Iterable<Inverse>): Promise<unknown[]> {
  const errors: unknown[] = []
  for (const step of steps) {
    try {
      await step()
    } catch (err) {
      errors.push(err)
    }
  }
  return errors
}

/**
 * An undo stack: each step that changed something registers its inverse with {@link push}, and
 * {@link undo} runs every registered inverse, last first, never stopping at a failure, and
 * returns every failure. Setup that fails undoes its steps in reverse; teardown reports all.
 */
export class UndoStack {
  readonly #inverses: Inverse[] = []

  /** Registers the inverse of a step (before or after running the step: the inverse checks). */
  push(inverse: Inverse): void {
    this.#inverses.push(inverse)
  }

  /** How many inverses are registered. */
  get size(): number {
    return this.#inverses.length
  }

  /**
   * Runs every registered inverse in reverse order and empties the stack; returns every failure
   * (empty when all succeeded). An inverse registered while undoing runs in a later `undo()`.
   */
  undo(): Promise<unknown[]> {
    const inverses = this.#inverses.splice(0).reverse()
    return runAll(inverses)
  }
}

/**
 * Runs `work` with a fresh {@link UndoStack}. When `work` throws, every inverse it registered runs
 * (in reverse, each once, all of them) and the original error is rethrown, with the failures of
 * the undo attached to it as `undoErrors` (when there are any and the error is an object). When
 * `work` succeeds, the inverses are dropped.
 */
export async function withUndo<T>(work: (undo: UndoStack) => Promise<T>): Promise<T> {
  const undo = new UndoStack()
  try {
    return await work(undo)
  } catch (err) {
    const undoErrors = await undo.undo()
    if (undoErrors.length > 0 && typeof err === 'object' && err !== null && Object.isExtensible(err)) {
      Object.assign(err, { undoErrors })
    }
    throw err
  }
}
