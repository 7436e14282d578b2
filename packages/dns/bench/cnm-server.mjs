// The cnm side of the benchmark (a child process, like aardvark-dns): the DNS server of one
// network with the benchmark's names, forwarding to the resolv.conf given.
//   node cnm-server.mjs ADDRESS RESOLV_CONF NAMES_JSON
import { createDnsServer } from '../dist/index.js'

const [address, resolvConf, namesJson] = process.argv.slice(2)
const server = await createDnsServer({ addresses: [address], port: 53, resolvConf, domain: 'dns.cnm' })
for (const e of JSON.parse(namesJson)) server.names.set(e)
process.on('SIGTERM', () => server.close().then(() => process.exit(0)))
process.stdout.write('ready\n')
