/**
 * A tiny authoritative DNS server on 127.0.0.1 (UDP) for tests: answers TXT,
 * A and AAAA questions from a table that tests edit while it runs.
 *
 * - A name in the table answers with its records (an empty answer section
 *   when it has none of the asked type, like a real server: NODATA).
 * - A name not in the table answers NXDOMAIN.
 * - `silent = true` makes the server swallow every query (the timeout case).
 * - `queries` counts questions by `TYPE name`, so tests can check caching.
 *
 * Point a node:dns `Resolver` at it with `resolver.setServers([server.address])`.
 */
import dgram from 'node:dgram'
import dnsPacket from 'dns-packet'
import type { Answer } from 'dns-packet'

export type DnsRecords = {
  /** Each TXT record is one string or several chunks (joined by the resolver). */
  txt?: Array<string | string[]>
  a?: string[]
  aaaa?: string[]
}

export type TestDnsServer = {
  /** `127.0.0.1:<port>`, ready for `Resolver.setServers`. */
  readonly address: string
  readonly port: number
  readonly records: Map<string, DnsRecords>
  readonly queries: Map<string, number>
  silent: boolean
  close(): Promise<void>
}

function answersFor(name: string, type: string, records: DnsRecords): Answer[] {
  const base = { name, ttl: 60, class: 'IN' as const }
  if (type === 'TXT') return (records.txt ?? []).map((data) => ({ ...base, type: 'TXT' as const, data }))
  if (type === 'A') return (records.a ?? []).map((data) => ({ ...base, type: 'A' as const, data }))
  if (type === 'AAAA') return (records.aaaa ?? []).map((data) => ({ ...base, type: 'AAAA' as const, data }))
  return []
}

export async function startDnsServer(table: Record<string, DnsRecords> = {}): Promise<TestDnsServer> {
  const socket = dgram.createSocket('udp4')
  const records = new Map(Object.entries(table).map(([k, v]) => [k.toLowerCase(), v]))
  const queries = new Map<string, number>()
  const server = { silent: false }

  socket.on('message', (msg, rinfo) => {
    let query: dnsPacket.Packet
    try {
      query = dnsPacket.decode(msg)
    } catch {
      return
    }
    const question = query.questions?.[0]
    if (question === undefined) return
    const name = question.name.toLowerCase()
    const key = `${question.type} ${name}`
    queries.set(key, (queries.get(key) ?? 0) + 1)
    if (server.silent) return
    const entry = records.get(name)
    const response = dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (entry === undefined ? 3 : 0), // rcode 3 = NXDOMAIN
      questions: [question],
      answers: entry === undefined ? [] : answersFor(question.name, question.type, entry),
    })
    socket.send(response, rinfo.port, rinfo.address)
  })

  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  const port = socket.address().port
  return Object.assign(server, {
    address: `127.0.0.1:${port}`,
    port,
    records,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  })
}
