/** Where a command writes: standard output and standard error by default. */
export interface Output {
  /**
   * Writes `text` as given (no newline is added) to standard output, or wherever the command's
   * results go (a test's buffer).
   */
  out(text: string): void
  /** Writes `text` as given to standard error: warnings and error messages, never results. */
  err(text: string): void
}

/** The process's own streams. */
export const processOutput: Output = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
}

/** Pretty JSON with a final newline (what every `--json` prints). */
export function printJSON(io: Output, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`)
}

/** The 12-character id prefix tables show (as Docker does). */
export function shortId(id: string): string {
  return id.slice(0, 12)
}

/** A text table: a header row and rows, columns padded to their widest cell. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd()
  return `${[headers, ...rows].map(line).join('\n')}\n`
}

/** A table, or only the first column with `quiet` (Docker's `-q`). */
export function printList(
  io: Output,
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  quiet: boolean | undefined,
): void {
  if (quiet) io.out(rows.map((r) => `${r[0] ?? ''}\n`).join(''))
  else io.out(renderTable(headers, rows))
}
