/**
 * The loopback world of the recovery tests: our PLC directory, a DNS server
 * for the relay's handle checks, PDS A as a CHILD PROCESS (`node
 * bin/atfed.js pds …`, so the test can SIGKILL it and delete its data
 * directory), PDS B in process, a relay (`startRelay`) following both, and
 * a feed generator (`startFeedgen`) following the relay. `runCli` runs the
 * atfed CLI in a child process and collects its output.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IdentityResolver } from '../../did-resolver/identity-resolver.ts'
import { loadFeedgenConfig } from '../../feedgen/config.ts'
import { feedUri } from '../../feedgen/routes.ts'
import { startFeedgen, type FeedgenServer } from '../../feedgen/server.ts'
import { startRelay, type RelayServer } from '../../relay/server.ts'
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts'
import { startPlcForPds, startTestPds, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

export type CliResult = { code: number | null; stdout: string; stderr: string }

export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/atfed.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export type ChildPds = { url: string; dataDir: string; child: ChildProcess; kill(): Promise<void> }

/** `atfed pds` in a child process on a free port; resolves once it prints its URL. */
export async function startChildPds(options: { plcUrl: string; adminPassword: string }): Promise<ChildPds> {
  const dataDir = mkdtempSync(join(tmpdir(), 'atfed-pds-child-'))
  const args = ['bin/atfed.js', 'pds', '--data', dataDir, '--port', '0', '--hostname', 'localhost', '--plc', options.plcUrl, '--dev', '--admin-password', options.adminPassword]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ATFED_PDS_RATE_LIMITS: 'false' } })
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`PDS child did not start: ${output}`)), 30_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /public URL (http:\/\/localhost:\d+)/.exec(output)
      if (match !== null) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.once('exit', (code) => reject(new Error(`PDS child exited (${code}): ${output}`)))
  })
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
    rmSync(dataDir, { recursive: true, force: true })
  }
  return { url, dataDir, child, kill }
}

export type RecoveryWorld = {
  plc: TestPlc
  dns: TestDnsServer
  a: ChildPds
  b: TestPds
  relay: RelayServer
  feedgen: FeedgenServer
  keywordFeed: string
  close(): Promise<void>
}

export async function startRecoveryWorld(): Promise<RecoveryWorld> {
  const plc = await startPlcForPds()
  const dns = await startDnsServer()
  const a = await startChildPds({ plcUrl: plc.url, adminPassword: 'admin-a' })
  const b = await startTestPds({ plc, config: { adminPassword: 'admin-b' } })
  const relayDir = mkdtempSync(join(tmpdir(), 'atfed-relay-'))
  const relay = await startRelay(
    {
      port: 0,
      bind: '127.0.0.1',
      dataDir: relayDir,
      plcUrl: plc.url,
      hosts: [a.url, b.publicUrl],
      adminPassword: 'admin-relay',
      dev: true,
      retentionMs: 72 * 60 * 60 * 1000,
      dnsServers: [dns.address],
      tuning: { backoffMsMin: 20, backoffMsMax: 200, flushMs: 2, forcedResolveMinMs: 0, resyncRetryMs: 0 },
    },
    { logLine: () => {} },
  )
  const feedDir = mkdtempSync(join(tmpdir(), 'atfed-feedgen-'))
  const config = loadFeedgenConfig({ port: '0', data: feedDir, relay: relay.url, plc: plc.url, hostname: 'feed.test', keyword: '#atfed', dev: true }, {})
  const resolver = new IdentityResolver({ plcUrl: plc.url, allowPrivateAddresses: true, cache: { forcedRefreshMinMs: 0 } })
  const feedgen = await startFeedgen(config, {
    resolver,
    popularCacheMs: 0,
    jwtRefetchMinMs: 0,
    consumer: { client: { backoffMsMin: 10, backoffMsMax: 50 }, handlerBackoffMsMin: 5, resubscribeDelayMs: 20 },
    onError: () => {},
  })
  return {
    plc,
    dns,
    a,
    b,
    relay,
    feedgen,
    keywordFeed: feedUri(config.publisherDid, 'keyword'),
    close: async () => {
      await feedgen.close()
      resolver.close()
      await relay.close()
      await a.kill()
      await b.stop()
      await dns.close()
      await plc.stop()
      rmSync(relayDir, { recursive: true, force: true })
      rmSync(feedDir, { recursive: true, force: true })
    },
  }
}

/** The keyword feed's post URIs (the feed needs no auth). */
export async function feedPosts(feedgen: FeedgenServer, feed: string): Promise<string[]> {
  const url = new URL(`${feedgen.url}/xrpc/app.bsky.feed.getFeedSkeleton`)
  url.searchParams.set('feed', feed)
  url.searchParams.set('limit', '100')
  const res = await fetch(url)
  if (res.status !== 200) throw new Error(`getFeedSkeleton: ${res.status} ${await res.text()}`)
  const body = (await res.json()) as { feed: Array<{ post: string }> }
  return body.feed.map((item) => item.post)
}
