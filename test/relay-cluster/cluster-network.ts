/**
 * A relay cluster of real processes for end-to-end tests: three `atfed pds`
 * children, `ingest` workers and `serve` frontends (`atfed relay --nats …
 * --role …`) sharing one JetStream stream, around a PLC directory and NATS
 * the caller runs. Every worker is told every PDS by `--host`; the leases
 * decide who follows which.
 *
 * Every child is tracked by the test file's watchdog (helpers/watchdog.ts)
 * so a hang cannot outlive the file, and `close()` kills them all.
 * `owners()` reads the leases bucket: which worker (index) holds each host.
 */
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Kvm } from '@nats-io/kv'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { clusterBuckets, nameOfKey } from '../../relay/cluster/kv-names.ts'
import { freePort, spawnAtfed } from '../helpers/atfed-child.ts'
import type { AtfedChild } from '../helpers/atfed-child.ts'
import { trackProcessGroup, untrackProcessGroup } from '../helpers/watchdog.ts'

const PDS_READY = / listening on (http:\/\/\S+)/
const RELAY_READY = /^relay listening on (http:\/\/\S+)/
const TOOK = /relay cluster: worker ([0-9a-f]{8}) took host/

export type ClusterNetwork = {
  readonly pdsUrls: readonly string[]
  readonly ingest: AtfedChild[]
  readonly serve: AtfedChild[]
  /** hostname → index of the ingest worker holding its lease (absent: nobody now). */
  owners(): Promise<Map<string, number>>
  /** Each ingest worker's `relay cluster:` stderr lines with the time they arrived (ms since the epoch). */
  readonly clusterLines: { at: number; line: string }[][]
  close(): Promise<void>
}

export type ClusterNetworkOptions = { plcUrl: string; natsUrls: string; root: string; stream: string; ingest: number; serve: number; replicas?: number }

export async function startClusterNetwork(options: ClusterNetworkOptions): Promise<ClusterNetwork> {
  const children: AtfedChild[] = []
  const spawn = async (args: string[], ready: RegExp, env: Record<string, string> = {}): Promise<AtfedChild> => {
    const child = await spawnAtfed(args, { ready, env })
    trackProcessGroup(child.child.pid)
    void child.exited.then(() => untrackProcessGroup(child.child.pid))
    children.push(child)
    return child
  }
  // Port 0: the relay binds whatever the kernel gives and its ready line names it. A port from
  // freePort() can be taken (by any outgoing connection) before the child binds it: EADDRINUSE.
  const relay = async (role: 'ingest' | 'serve', i: number, hosts: readonly string[]): Promise<AtfedChild> => {
    const args = ['relay', '--port', '0', '--data', join(options.root, `${role}${i}`), '--plc', options.plcUrl, '--dev',
      '--nats', options.natsUrls, '--nats-stream', options.stream, '--nats-replicas', String(options.replicas ?? 1), '--role', role, ...hosts.flatMap((h) => ['--host', h])]
    return spawn(args, RELAY_READY)
  }
  let nc: NatsConnection | null = null
  try {
    const pdsPorts = await Promise.all([freePort(), freePort(), freePort()])
    const pds = await Promise.all(
      pdsPorts.map((port, p) =>
        spawn(['pds', '--port', String(port), '--data', join(options.root, `pds${p}`), '--hostname', 'localhost', '--plc', options.plcUrl, '--dev'], PDS_READY, {
          ATFED_PDS_RATE_LIMITS: 'false',
        }),
      ),
    )
    const hosts = pdsPorts.map((port) => `http://127.0.0.1:${port}`)
    const ingest: AtfedChild[] = []
    const ids: Set<string>[] = []
    const clusterLines: { at: number; line: string }[][] = []
    for (let i = 0; i < options.ingest; i++) {
      const worker = await relay('ingest', i, hosts)
      const seen = new Set<string>(worker.stderr.flatMap((line) => TOOK.exec(line)?.[1] ?? []))
      const lines: { at: number; line: string }[] = []
      clusterLines.push(lines)
      createInterface({ input: worker.child.stderr! }).on('line', (line) => {
        const id = TOOK.exec(line)?.[1]
        if (id !== undefined) seen.add(id)
        if (line.startsWith('relay cluster:')) lines.push({ at: Date.now(), line })
      })
      ingest.push(worker)
      ids.push(seen)
    }
    const serve: AtfedChild[] = []
    for (let i = 0; i < options.serve; i++) serve.push(await relay('serve', i, []))
    nc = await connect({ servers: options.natsUrls.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 100 })
    const leases = await new Kvm(nc).open(clusterBuckets(options.stream).leases)
    const conn = nc
    return {
      pdsUrls: pds.map((c) => c.url),
      ingest,
      serve,
      clusterLines,
      owners: async () => {
        const out = new Map<string, number>()
        for await (const key of await leases.keys('h.*')) {
          const owner = (await leases.get(key))?.string() ?? ''
          const index = ids.findIndex((prefixes) => [...prefixes].some((p) => owner.startsWith(p)))
          if (owner !== '') out.set(nameOfKey(key.slice(2)), index)
        }
        return out
      },
      close: async () => {
        await Promise.all(children.map((c) => c.kill()))
        await conn.close().catch(() => {})
      },
    }
  } catch (err) {
    await Promise.all(children.map((c) => c.kill()))
    await nc?.close().catch(() => {})
    throw err
  }
}
