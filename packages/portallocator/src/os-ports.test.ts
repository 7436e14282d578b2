import { describe, expect, it } from 'vitest'
import {
  OS_SYNC_CLOCK_EVERY,
  OS_SYNC_MAX_INTERVAL_MS,
  OS_SYNC_MIN_INTERVAL_MS,
  OsPorts,
  readProcNetTable,
} from './os-ports.js'

/** One line of /proc/net/tcp or udp for an IPv4 address on a little-endian host. */
function line4(ip: string, port: number, state: string): string {
  const hex = ip
    .split('.')
    .reverse()
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase()
  return `   0: ${hex}:${port.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 ${state} 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0`
}

const V6_LOOPBACK = '00000000000000000000000001000000'
const V6_ANY = '00000000000000000000000000000000'
function line6(hex: string, port: number, state: string): string {
  return `   0: ${hex}:${port.toString(16).toUpperCase().padStart(4, '0')} ${V6_ANY}:0000 ${state} 0`
}

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'

interface Fake {
  tables: Record<string, string[]>
  time: number
  reads: string[]
}

function fake(): { os: OsPorts; state: Fake } {
  const state: Fake = { tables: { tcp: [], tcp6: [], udp: [], udp6: [] }, time: 1000, reads: [] }
  const os = new OsPorts({
    read: (table) => {
      state.reads.push(table)
      const lines = state.tables[table]
      if (lines === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' })
      return [HEADER, ...lines, ''].join('\n')
    },
    now: () => state.time,
    clockEvery: 1,
    timer: false,
  })
  return { os, state }
}

describe('OsPorts', () => {
  it('is stale before the first read, then fresh for its interval', () => {
    const { os, state } = fake()
    expect(os.isStale()).toBe(true)
    os.refresh()
    expect(state.reads).toEqual(['tcp', 'tcp6', 'udp', 'udp6'])
    expect(os.reads).toBe(1)
    expect(os.isStale()).toBe(false)
    state.time += OS_SYNC_MIN_INTERVAL_MS - 1
    expect(os.isStale()).toBe(false)
    state.time += 1
    expect(os.isStale()).toBe(true)
  })

  it('reads the clock only on every 64th check, and expires from a timer', async () => {
    let time = 0
    let clockReads = 0
    const os = new OsPorts({
      read: () => '',
      now: () => {
        clockReads++
        return time
      },
    })
    expect(os.isStale()).toBe(true)
    os.refresh()
    clockReads = 0
    time += OS_SYNC_MIN_INTERVAL_MS
    for (let i = 1; i < OS_SYNC_CLOCK_EVERY; i++) expect(os.isStale()).toBe(false)
    expect(clockReads).toBe(0)
    expect(os.isStale()).toBe(true) // the 64th check reads the clock
    expect(clockReads).toBe(1)
    for (let i = 0; i < 3 * OS_SYNC_CLOCK_EVERY; i++) expect(os.isStale()).toBe(true) // until refresh()
    expect(clockReads).toBe(1)
    os.refresh()
    time += 1
    await new Promise((resolve) => setTimeout(resolve, OS_SYNC_MIN_INTERVAL_MS + 20))
    expect(os.isStale()).toBe(true) // the timer fired, whatever the (fake) clock says
  })

  it('trusts a slow read for 50 times its duration, within bounds', () => {
    const { os, state } = fake()
    const slow = new OsPorts({
      read: () => {
        state.time += 10
        return ''
      },
      now: () => state.time,
    })
    slow.refresh()
    expect(slow.interval).toBe(4 * 10 * 50)
    const slower = new OsPorts({
      read: () => {
        state.time += 1000
        return ''
      },
      now: () => state.time,
    })
    slower.refresh()
    expect(slower.interval).toBe(OS_SYNC_MAX_INTERVAL_MS)
    os.refresh()
    expect(os.interval).toBe(OS_SYNC_MIN_INTERVAL_MS)
  })

  it('sees listening TCP and bound UDP sockets, v4 and v6, and reports what changed', () => {
    const { os, state } = fake()
    state.tables.tcp = [line4('127.0.0.1', 8080, '0A'), line4('127.0.0.1', 8081, '01')]
    state.tables.tcp6 = [line6(V6_LOOPBACK, 8082, '0A')]
    state.tables.udp = [line4('0.0.0.0', 5353, '07')]
    expect(os.refresh()).toEqual({ tcp: [8080, 8082], udp: [5353] })
    expect(os.conflicts('tcp', '127.0.0.1', 8080)).toBe(true)
    expect(os.conflicts('tcp', '0.0.0.0', 8080)).toBe(true)
    expect(os.conflicts('tcp', '127.0.0.2', 8080)).toBe(false)
    expect(os.conflicts('tcp', '::1', 8080)).toBe(false)
    expect(os.conflicts('tcp', '127.0.0.1', 8081)).toBe(false) // an established connection, not a listener
    expect(os.conflicts('tcp', '::1', 8082)).toBe(true)
    expect(os.conflicts('tcp', '::', 8082)).toBe(true)
    expect(os.conflicts('tcp', '127.0.0.1', 8082)).toBe(false)
    expect(os.conflicts('udp', '10.1.1.1', 5353)).toBe(true)
    expect(os.conflicts('udp', '::1', 5353)).toBe(false)
    expect(os.conflicts('tcp', '10.1.1.1', 5353)).toBe(false)
    expect(os.conflicts('sctp', '10.1.1.1', 5353)).toBe(false)
    expect([...os.bound('sctp')]).toEqual([])
    // the quick "nothing is bound to this port" test the release path uses
    expect([8080, 8081, 8082, 5353].map((port) => os.unbound('tcp', port))).toEqual([false, true, false, true])
    expect([os.unbound('udp', 5353), os.unbound('udp', 8080), os.unbound('sctp', 5353)]).toEqual([false, true, true])

    state.tables.tcp = [line4('127.0.0.1', 8080, '0A'), line4('10.0.0.1', 8080, '0A')]
    state.tables.udp = []
    expect(os.refresh()).toEqual({ tcp: [8080], udp: [5353] })
    expect(os.refresh()).toEqual({ tcp: [], udp: [] })
  })

  it('treats a socket on :: as covering IPv4 too', () => {
    const { os, state } = fake()
    state.tables.tcp6 = [line6(V6_ANY, 3000, '0A')]
    os.refresh()
    expect(os.conflicts('tcp', '10.0.0.1', 3000)).toBe(true)
    expect(os.conflicts('tcp', '0.0.0.0', 3000)).toBe(true)
  })

  it('sees nothing in a table it cannot read (no IPv6, no /proc)', () => {
    const { os, state } = fake()
    state.tables = { tcp: [line4('127.0.0.1', 8080, '0A')] }
    expect(os.refresh()).toEqual({ tcp: [8080], udp: [] })
    expect(os.conflicts('tcp', '127.0.0.1', 8080)).toBe(true)
  })

  it('reads the running kernel through /proc', () => {
    expect(readProcNetTable('tcp')).toMatch(/local_address/)
    const real = new OsPorts()
    real.refresh()
    expect(real.reads).toBe(1)
  })
})
