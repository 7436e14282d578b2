import { askDaemon, daemonSocket } from './daemon-client.js'
import { type CniAnswer, handleCni } from './handle.js'
import { inProcess, localPaths } from './local.js'

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * The executable: the environment and stdin as a runtime gives them; the daemon does the work when
 * it listens, else this process does, on the store. Prints the answer; returns the exit code.
 */
export async function runCni(env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  const stdin = await readStdin()
  const req = { env, stdin }
  let answer: CniAnswer | undefined
  if (env.CNI_COMMAND !== 'VERSION') answer = await askDaemon(daemonSocket(env), req)
  answer ??= await handleCni(req, inProcess(localPaths(env)))
  process.stdout.write(answer.stdout)
  return answer.exitCode
}
