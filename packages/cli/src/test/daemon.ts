import { readFileSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { run } from '@cnm/netlink/testing'
import { expect } from 'vitest'

/** One HTTP answer of the API. */
export interface Answer {
  status: number
  body: unknown
  headers: Record<string, string | string[] | undefined>
}

/** Where to send a request: the unix socket, or TCP on 127.0.0.1. */
export type Target = { socketPath: string } | { port: number }

/** One HTTP request to the API (a raw body with `raw`). */
export function api(target: Target, method: string, urlPath: string, body?: unknown, raw?: string): Promise<Answer> {
  const payload = raw ?? (body === undefined ? undefined : JSON.stringify(body))
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        ...('socketPath' in target ? { socketPath: target.socketPath } : { host: '127.0.0.1', port: target.port }),
        method,
        path: urlPath,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = ''
        res.on('data', (d) => {
          text += d
        })
        res.on('end', () => {
          let parsed: unknown = text
          try {
            parsed = text ? JSON.parse(text) : undefined
          } catch {}
          resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers })
        })
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}

/** The error body of a code and kind (any message). */
export const errorOf = (code: string, kind: string): { error: { code: string; kind: string; message: string } } => ({
  error: { code, kind, message: expect.any(String) },
})

/**
 * What `bind` says for each (proto, ip, port), asked of Python (a program not ours): `bound`, or
 * the error (`[Errno 98] Address already in use`). One Python process for the whole list.
 */
export function pythonBinds(targets: readonly [proto: 'tcp' | 'udp', ip: string, port: number][]): string[] {
  const script = [
    'import json, socket, sys',
    'out = []',
    'for proto, ip, port in json.loads(sys.argv[1]):',
    '    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET',
    '    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)',
    '    try:',
    '        s.bind((ip, port)); out.append("bound")',
    '    except OSError as e:',
    '        out.append(str(e))',
    '    finally:',
    '        s.close()',
    'print(json.dumps(out))',
  ].join('\n')
  const res = run('python3', ['-c', script, JSON.stringify(targets)])
  return JSON.parse(res.stdout) as string[]
}

export const IN_USE = '[Errno 98] Address already in use'

/** A file's text, for the TLS material. */
export const text = (file: string): string => readFileSync(file, 'utf8')

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl in `dir`. */
export function makeCertificates(
  dir: string,
): Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string> {
  const f = (name: string): string => `${dir}/${name}`
  const ossl = (...args: string[]): void => void run('openssl', args)
  ossl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=cnm test CA',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
  )
  for (const [who, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'],
    ['client', 'extendedKeyUsage=clientAuth\n'],
  ] as const) {
    ossl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      `/CN=cnm ${who}`,
      '-keyout',
      f(`${who}.key`),
      '-out',
      f(`${who}.csr`),
    )
    writeFileSync(f(`${who}.ext`), ext)
    ossl(
      'x509',
      '-req',
      '-in',
      f(`${who}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      f(`${who}.ext`),
      '-out',
      f(`${who}.pem`),
    )
  }
  return {
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
  }
}
