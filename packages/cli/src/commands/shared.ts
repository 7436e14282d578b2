/** Commander's collector for repeatable options (`-p a -p b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

/** Options of every listing. */
export interface ListOptions {
  json?: boolean
  quiet?: boolean
}
