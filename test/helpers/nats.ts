/**
 * Real `nats-server` processes for tests, on 127.0.0.1 and free ports, with
 * JetStream stores under os.tmpdir() (removed by `stop`).
 *
 * `startNats()` runs one node; `startNatsCluster(3)` runs a cluster whose
 * nodes route to each other (JetStream needs every node to know the others:
 * `--routes` lists all of them, each node ignores its own address). A node
 * is ready once its client port accepts connections and, in a cluster, once
 * JetStream has a meta leader (`/jsz` on the monitoring port says so).
 * `kill(i)` sends SIGKILL to one node; `restart(i)` brings it back on the
 * same ports and store. Each node runs in its own process group, tracked by
 * watchdog.ts (a hung test file kills them on its way out).
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { trackProcessGroup, untrackProcessGroup } from './watchdog.ts'

export type NatsNode = { name: string; url: string; port: number; clusterPort: number; monitorPort: number; storeDir: string; process: ChildProcess | null }
export type NatsCluster = {
  nodes: NatsNode[]
  /** Every client URL, comma-separated (what `--nats` takes). */
  urls: string
  kill(index: number): Promise<void>
  restart(index: number): Promise<void>
  stop(): Promise<void>
}

const READY_TIMEOUT_MS = 20_000

export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
  })
}

async function jetStreamReady(node: NatsNode, clustered: boolean): Promise<boolean> {
  if (!(await canConnect(node.port))) return false
  if (!clustered) return true
  try {
    const res = await fetch(`http://127.0.0.1:${node.monitorPort}/jsz`)
    const body = (await res.json()) as { meta_cluster?: { leader?: string } }
    return typeof body.meta_cluster?.leader === 'string' && body.meta_cluster.leader !== ''
  } catch {
    return false
  }
}

async function waitReady(node: NatsNode, clustered: boolean): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (!(await jetStreamReady(node, clustered))) {
    if (node.process === null || node.process.exitCode !== null) throw new Error(`nats-server ${node.name} exited`)
    if (Date.now() > deadline) throw new Error(`nats-server ${node.name} not ready after ${READY_TIMEOUT_MS} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

function launch(node: NatsNode, peers: readonly NatsNode[]): void {
  const args = ['-a', '127.0.0.1', '-p', String(node.port), '-m', String(node.monitorPort), '-js', '-sd', node.storeDir, '-n', node.name]
  if (peers.length > 0) {
    const routes = peers.map((p) => `nats://127.0.0.1:${p.clusterPort}`).join(',')
    args.push('--cluster_name', 'atfed-test', '--cluster', `nats://127.0.0.1:${node.clusterPort}`, '--routes', routes)
  }
  // Its own process group, tracked: a test file's watchdog (watchdog.ts) kills it if the file hangs.
  node.process = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
  node.process.stderr?.resume()
  trackProcessGroup(node.process.pid)
}

async function newNode(name: string): Promise<NatsNode> {
  const [port, clusterPort, monitorPort] = [await freePort(), await freePort(), await freePort()]
  const storeDir = mkdtempSync(join(tmpdir(), `atfed-nats-${name}-`))
  return { name, url: `nats://127.0.0.1:${port}`, port, clusterPort, monitorPort, storeDir, process: null }
}

async function killNode(node: NatsNode): Promise<void> {
  const child = node.process
  node.process = null
  if (child === null || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
  untrackProcessGroup(child.pid)
}

export async function startNatsCluster(size: number): Promise<NatsCluster> {
  const nodes: NatsNode[] = []
  for (let i = 0; i < size; i++) nodes.push(await newNode(`n${i + 1}`))
  const clustered = size > 1
  const peersOf = (node: NatsNode): NatsNode[] => (clustered ? nodes : [])
  for (const node of nodes) launch(node, peersOf(node))
  try {
    await Promise.all(nodes.map((node) => waitReady(node, clustered)))
  } catch (err) {
    for (const node of nodes) await killNode(node)
    throw err
  }
  return {
    nodes,
    urls: nodes.map((n) => n.url).join(','),
    kill: (index) => killNode(nodes[index] as NatsNode),
    restart: async (index) => {
      const node = nodes[index] as NatsNode
      launch(node, peersOf(node))
      await waitReady(node, clustered)
    },
    stop: async () => {
      for (const node of nodes) {
        await killNode(node)
        rmSync(node.storeDir, { recursive: true, force: true })
      }
    },
  }
}

/** One JetStream-enabled node. */
export async function startNats(): Promise<NatsCluster> {
  return startNatsCluster(1)
}
