/** One sandbox in the picture. */
export interface TopologyBox {
  name: string
  hostVeth: string
  iface: string
  ip: string
  note: string
}

/** What the picture shows. */
export interface Topology {
  /** Where the "host" is (a throwaway namespace, or this host). */
  host: string
  hostLink: string
  hostAddress: string
  /** The published port: `tcp 0.0.0.0:32768 -> 172.18.0.2:80`. */
  published: string
  network: string
  bridge: string
  gateway: string
  boxes: TopologyBox[]
}

function boxLines(b: TopologyBox, width: number): string[] {
  const row = (text: string): string => `| ${text.padEnd(width - 4)} |`
  const edge = `+${'-'.repeat(width - 2)}+`
  return [edge, row(`sandbox ${b.name}`), row(`${b.iface} ${b.ip}`), row(b.note), edge]
}

/** Columns side by side, each `width` wide. */
function sideBySide(columns: string[][], width: number): string[] {
  const height = Math.max(...columns.map((c) => c.length))
  return Array.from({ length: height }, (_, i) =>
    columns
      .map((c) => (c[i] ?? '').padEnd(width))
      .join('   ')
      .trimEnd(),
  )
}

/** A text picture of the demo's topology. */
export function renderTopology(t: Topology): string {
  const width = Math.max(
    24,
    ...t.boxes.flatMap((b) => [
      b.name.length + 12,
      b.ip.length + b.iface.length + 5,
      b.note.length + 4,
      b.hostVeth.length + 4,
    ]),
  )
  const center = (text: string): string => `${' '.repeat(Math.max(0, Math.floor((width - text.length) / 2)))}${text}`
  const pipes = t.boxes.map(() => [center('|')])
  const lines = [
    `host: ${t.host}`,
    `  lo 127.0.0.1    ${t.hostLink} ${t.hostAddress} (the host's address)`,
    `  published: ${t.published}`,
    '  |',
    `[${t.bridge}] ${t.gateway}   network ${t.network}`,
    ...sideBySide(
      t.boxes.map(() => [center('|')]),
      width,
    ).map((l) => `  ${l}`),
    ...sideBySide(
      t.boxes.map((b) => [center(b.hostVeth)]),
      width,
    ).map((l) => `  ${l}`),
    ...sideBySide(pipes, width).map((l) => `  ${l}`),
    ...sideBySide(
      t.boxes.map((b) => boxLines(b, width)),
      width,
    ).map((l) => `  ${l}`),
  ]
  return `${lines.map((l) => `  ${l}`.trimEnd()).join('\n')}\n`
}
