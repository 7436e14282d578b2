import { loadAddon } from './addon.js'
import { kernelError } from './errors.js'

/** `CLONE_NEWNET` of unshare(2) and setns(2) (<sched.h>): a new network namespace. */
export const CLONE_NEWNET = 0x40000000
/** `MS_BIND` of mount(2): bind-mount `source` at `target` (how a namespace is kept at a path). */
export const MS_BIND = 0x1000
/** `MNT_DETACH` of umount2(2): a lazy unmount, detached now and cleaned up when no longer busy. */
export const MNT_DETACH = 0x2

function check(rc: number, what: string): void {
  if (rc < 0) throw kernelError(-rc, what)
}

/** unshare(2) for the calling thread. */
export function unshare(flags: number): void {
  check(loadAddon().unshare(flags), `unshare(0x${flags.toString(16)})`)
}

/** setns(2) for the calling thread. */
export function setns(fd: number, nstype: number): void {
  check(loadAddon().setns(fd, nstype), `setns(fd ${fd})`)
}

/** mount(2). */
export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data?: string,
): void {
  check(loadAddon().mount(source, target, fstype, flags, data ?? null), `mount ${source ?? 'none'} on ${target}`)
}

/** umount2(2). */
export function umount2(target: string, flags: number): void {
  check(loadAddon().umount2(target, flags), `umount ${target}`)
}
