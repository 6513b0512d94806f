/**
 * Runs a relay scenario (test/relay/scenarios/*.json): frames in from
 * scripted hosts, then the relay's exact output and its drops by reason.
 *
 * A scenario names hosts (`"hosts": ["a", "b"]`) and accounts with their
 * host (`"accounts": {"alice": "a"}`), then steps, each sending one frame
 * from one host; the runner waits until the relay has taken and applied it
 * (and any resync it caused finished) before the next, so the output order
 * is deterministic. Step kinds:
 *   {"host", "commit": account, "label"?, "send"?: false, "detached"?: true,
 *      "forge"?: "signature" | "futureRev" | "prevData"}
 *        a single-create commit; `send: false` applies it to the repo without
 *        sending (a gap in the chain); detached/forged ones do not change the repo
 *   {"host", "initial": account, "label"?}  the repo's first commit (since null, no prevData)
 *   {"host", "sync": account, "label"?}    #sync of the repo's current commit
 *   {"host", "replay": label}              the exact event of an earlier label again (new seq)
 *   {"host", "resendSeq": n}               the frame with upstream seq n again (old seq; the
 *                                          stream client drops it, counted at the next frame)
 *   {"host", "identity": account, "handle": h | null}
 *   {"host", "account": account, "active": bool, "status"?: s}
 *   {"host", "rawHex": "..."}               raw bytes (malformed CBOR), sent once
 *   {"host", "oversizedBytes": n}           a frame of n bytes, sent once
 *   {"host", "invalidEvent": account}       a #commit whose rev is not a TID
 *   {"limits": {"host", ...}}               admin changeLimits (no frame)
 * `expect.output` lists the relay firehose as strings:
 *   "#commit alice c1" · "#sync alice c3" (rev of label c3) ·
 *   "#identity alice alice.test" (or "-" without handle) ·
 *   "#account alice active" / "#account alice inactive deactivated";
 * `expect.drops` maps host → {reason: count} (every host not named: none);
 * `expect.status` maps account → getRepoStatus fields.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { encodeMessageFrame } from '../../core/stream/frames.ts'
import { eventPayload } from '../../core/stream/events.ts'
import type { StreamEvent, UnsequencedEvent } from '../../core/stream/events.ts'
import { TidClock } from '../../core/syntax/tid.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import type { RelayTuning } from '../../relay/config.ts'
import type { FakePdsHost } from '../helpers/fake-pds-host.ts'
import type { RelayTestAccount, UnsequencedCommit } from '../helpers/relay-accounts.ts'
import { verifyAllOurs } from './firehose-check.ts'
import { startRelayHarness } from './relay-harness.ts'
import type { RelayHarness } from './relay-harness.ts'

export type Step = { host?: string; [kind: string]: unknown }
export type Scenario = {
  name: string
  hosts: string[]
  accounts: { [name: string]: string }
  verifiedHandles?: string[]
  steps: Step[]
  expect: { output: string[]; drops?: { [host: string]: { [reason: string]: number } }; status?: { [account: string]: unknown } }
}

export const SCENARIO_DIR = new URL('./scenarios/', import.meta.url)

export function loadScenarios(): Scenario[] {
  return readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(new URL(f, SCENARIO_DIR), 'utf8')) as Scenario)
}

type World = {
  h: RelayHarness
  hosts: Map<string, FakePdsHost>
  accounts: Map<string, RelayTestAccount>
  labels: Map<string, UnsequencedEvent>
  /** rev → label, per DID. */
  revLabels: Map<string, string>
  sent: Map<FakePdsHost, number>
}

function commitStep(world: World, step: Step, host: FakePdsHost): boolean {
  const account = world.accounts.get(step['commit'] as string) as RelayTestAccount
  const forge = step['forge'] as string | undefined
  let built
  if (forge === 'signature') built = account.detached({ keypair: generateKeypair('k256') })
  else if (forge === 'futureRev') built = account.detached({ clock: new TidClock({ nowMs: () => Date.now() + 10 * 60 * 1000 }) })
  else if (forge === 'prevData' || step['detached'] === true) built = account.detached()
  else built = account.commit()
  let event = built.event
  if (forge === 'prevData') event = { ...event, prevData: built.result.commitCid }
  const label = (step['label'] as string | undefined) ?? `#${world.labels.size}`
  world.labels.set(label, event)
  world.revLabels.set(`${account.did} ${event.rev}`, label)
  if (step['send'] === false) return false
  host.emit(event)
  return true
}

async function runStep(world: World, step: Step): Promise<void> {
  if (step['limits'] !== undefined) {
    const limits = step['limits'] as { host: string }
    const host = world.hosts.get(limits.host) as FakePdsHost
    const res = await fetch(`${world.h.relay.url}/admin/pds/changeLimits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('admin:test-admin-password').toString('base64')}` },
      body: JSON.stringify({ ...limits, host: host.hostname }),
    })
    assert.equal(res.status, 200, await res.text())
    return
  }
  const host = world.hosts.get(step.host as string) as FakePdsHost
  let sent = true
  if (step['commit'] !== undefined) sent = commitStep(world, step, host)
  else if (step['replay'] !== undefined) host.emit(world.labels.get(step['replay'] as string) as UnsequencedEvent)
  else if (step['initial'] !== undefined) {
    const account = world.accounts.get(step['initial'] as string) as RelayTestAccount
    const label = (step['label'] as string | undefined) ?? `#${world.labels.size}`
    world.labels.set(label, account.initial.event)
    world.revLabels.set(`${account.did} ${account.initial.event.rev}`, label)
    host.emit(account.initial.event)
  } else if (step['sync'] !== undefined) {
    const event = world.accounts.get(step['sync'] as string)!.syncEvent()
    if (step['label'] !== undefined) world.labels.set(step['label'] as string, event)
    host.emit(event)
  }
  else if (step['resendSeq'] !== undefined) {
    host.resend(step['resendSeq'] as number)
    sent = false
  }
  else if (step['identity'] !== undefined) host.emit(world.accounts.get(step['identity'] as string)!.identityEvent(step['handle'] as string | null))
  else if (step['account'] !== undefined) {
    host.emit(world.accounts.get(step['account'] as string)!.accountEvent(step['active'] as boolean, step['status'] as string | undefined))
  } else if (step['rawHex'] !== undefined) host.emitRaw(Buffer.from(step['rawHex'] as string, 'hex'), { once: true })
  else if (step['oversizedBytes'] !== undefined) host.emitRaw(new Uint8Array(step['oversizedBytes'] as number), { once: true })
  else if (step['invalidEvent'] !== undefined) {
    const event = world.accounts.get(step['invalidEvent'] as string)!.detached().event
    host.emitRaw(encodeMessageFrame('#commit', { ...eventPayload({ ...event, seq: host.lastSeq + 1 }), rev: 'not-a-tid' }), { seq: host.lastSeq + 1 })
  } else throw new Error(`unknown step ${JSON.stringify(step)}`)
  if (!sent) return
  const count = (world.sent.get(host) ?? 0) + 1
  world.sent.set(host, count)
  await world.h.settle(host, count)
}

function describe(world: World, event: StreamEvent): string {
  const name = (did: string): string => [...world.accounts].find(([, a]) => a.did === did)?.[0] ?? did
  switch (event.t) {
    case '#commit':
      return `#commit ${name(event.repo)} ${world.revLabels.get(`${event.repo} ${event.rev}`) ?? event.rev}`
    case '#sync':
      return `#sync ${name(event.did)} ${world.revLabels.get(`${event.did} ${event.rev}`) ?? event.rev}`
    case '#identity':
      return `#identity ${name(event.did)} ${event.handle ?? '-'}`
    case '#account':
      return `#account ${name(event.did)} ${event.active ? 'active' : 'inactive'}${event.status === null ? '' : ` ${event.status}`}`
  }
}

export async function runScenario(scenario: Scenario, tuning: Partial<RelayTuning> = {}): Promise<void> {
  const h = await startRelayHarness({ hosts: scenario.hosts.length, tuning })
  try {
    const world: World = { h, hosts: new Map(), accounts: new Map(), labels: new Map(), revLabels: new Map(), sent: new Map() }
    scenario.hosts.forEach((name, i) => world.hosts.set(name, h.hosts[i] as FakePdsHost))
    for (const [name, hostName] of Object.entries(scenario.accounts)) {
      const verified = scenario.verifiedHandles?.includes(name) === true
      world.accounts.set(name, await h.account(world.hosts.get(hostName) as FakePdsHost, `${name}.test`, { verifiedHandle: verified }))
    }
    const consumer = h.consumer(0)
    for (const step of scenario.steps) await runStep(world, step)
    await consumer.waitFor(scenario.expect.output.length)
    await new Promise((resolve) => setTimeout(resolve, 50)) // anything extra would show up now
    assert.deepEqual(consumer.events.map((e) => describe(world, e.event)), scenario.expect.output, 'relay output')
    assert.deepEqual(consumer.events.map((e) => e.seq), consumer.events.map((_, i) => i + 1), 'relay seqs are 1..n')
    const keyOf = (did: string): string => [...world.accounts.values()].find((a) => a.did === did)!.keypair.publicKey.didKey
    verifyAllOurs(consumer.events, keyOf) // every #commit / #sync served passes our sync-1.1 verification
    for (const [name, host] of world.hosts) {
      assert.deepEqual(h.hostRecord(host).drops, scenario.expect.drops?.[name] ?? {}, `drops on host ${name}`)
    }
    for (const [name, status] of Object.entries(scenario.expect.status ?? {})) {
      const did = (world.accounts.get(name) as RelayTestAccount).did
      const res = await fetch(`${h.relay.url}/xrpc/com.atproto.sync.getRepoStatus?did=${did}`)
      const body = (await res.json()) as { rev?: string }
      if (body.rev !== undefined) body.rev = world.revLabels.get(`${did} ${body.rev}`) ?? body.rev
      assert.deepEqual(body, { did, ...(status as object) }, `status of ${name}`)
    }
  } finally {
    await h.close()
  }
}
