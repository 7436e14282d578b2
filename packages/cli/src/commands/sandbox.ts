import type { Command } from 'commander'
import { withApi } from '../backend.js'
import { type Output, printJSON, printList, shortId } from '../output.js'
import type { ListOptions } from './shared.js'

/** `cnm sandbox create|ls|inspect|rm`. */
export function registerSandboxCommands(program: Command, io: Output): void {
  const sandbox = program.command('sandbox').description("manage sandboxes (containers' network namespaces)")

  sandbox
    .command('create')
    .description('create a sandbox: a network namespace bound under --sandbox-dir (prints its id)')
    .argument('<container-id>', 'the container it belongs to (letters, digits, "_", "." or "-")')
    .option('--key <path>', 'bind the namespace at this absolute path instead')
    .option('--name <name>', "the container's name: its endpoints answer to it in DNS")
    .option('--json', 'print the sandbox as JSON instead of its id')
    .action(async (containerID: string, opts: { key?: string; name?: string; json?: boolean }, cmd: Command) => {
      const body = {
        containerID,
        ...(opts.key === undefined ? {} : { key: opts.key }),
        ...(opts.name === undefined ? {} : { name: opts.name }),
      }
      const sb = await withApi(cmd, (api) => api.createSandbox(body))
      if (opts.json) printJSON(io, sb)
      else io.out(`${sb.id}\n`)
    })

  sandbox
    .command('ls')
    .alias('list')
    .description('list sandboxes')
    .option('--json', 'print JSON (an array of sandbox objects)')
    .option('-q, --quiet', 'print only ids')
    .action(async (opts: ListOptions, cmd: Command) => {
      const sbs = await withApi(cmd, (api) => api.listSandboxes())
      if (opts.json) return printJSON(io, sbs)
      const rows = sbs.map((s) => [
        opts.quiet ? s.id : shortId(s.id),
        s.containerID,
        s.key,
        s.endpoints.map((e) => `${e.network}/${e.name}`).join(','),
      ])
      printList(io, ['SANDBOX ID', 'CONTAINER ID', 'KEY', 'ENDPOINTS'], rows, opts.quiet)
    })

  sandbox
    .command('inspect')
    .description('print sandboxes as JSON (an array)')
    .argument('<sandbox...>', 'sandbox ids, container ids or keys')
    .action(async (refs: string[], _opts: unknown, cmd: Command) => {
      const sbs = await withApi(cmd, async (api) => {
        const out = []
        for (const r of refs) out.push(await api.inspectSandbox(r))
        return out
      })
      printJSON(io, sbs)
    })

  sandbox
    .command('rm')
    .alias('remove')
    .description('remove sandboxes with their endpoints; stops at the first failure')
    .argument('<sandbox...>', 'sandbox ids, container ids or keys')
    .action(async (refs: string[], _opts: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        for (const ref of refs) {
          const sb = await api.removeSandbox(ref)
          io.out(`${sb.containerID || sb.id}\n`)
        }
      })
    })
}
