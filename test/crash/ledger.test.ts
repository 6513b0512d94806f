/**
 * The crash checks can fail: FirehoseLedger (firehose-ledger.ts) is fed
 * streams with exactly one thing wrong — a gap, a frame rewritten across a
 * restart, a commit twice, a commit signed by another key, a commit that
 * skips its predecessor, a replay shorter than what was served — and must
 * name it; the same stream without the fault passes.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { encodeEventFrame, withSeq } from '../../core/stream/events.ts'
import type { UnsequencedEvent } from '../../core/stream/events.ts'
import { startFakePdsHost } from '../helpers/fake-pds-host.ts'
import type { FakePdsHost } from '../helpers/fake-pds-host.ts'
import { startTestPlc } from '../helpers/plc.ts'
import type { TestPlc } from '../helpers/plc.ts'
import { createRelayTestAccount } from '../helpers/relay-accounts.ts'
import type { RelayTestAccount } from '../helpers/relay-accounts.ts'
import type { CollectedEvent } from '../helpers/stream-collector.ts'
import { createdText, FirehoseLedger } from './firehose-ledger.ts'

function stream(events: readonly UnsequencedEvent[]): CollectedEvent[] {
  return events.map((e, i) => {
    const event = withSeq(e, i + 1)
    return { seq: i + 1, event, frameBytes: encodeEventFrame(event) }
  })
}

describe('crash checks: the firehose ledger names what is wrong', { timeout: 20_000 }, () => {
  let plc: TestPlc
  let host: FakePdsHost
  let alice: RelayTestAccount
  let commits: UnsequencedEvent[]
  const ledger = (): FirehoseLedger => new FirehoseLedger(async () => alice.keypair.publicKey.didKey)

  before(async () => {
    plc = await startTestPlc()
    host = await startFakePdsHost()
    alice = await createRelayTestAccount(plc.url, host, 'ledger.test')
    commits = [alice.initial.event, alice.commit().event, alice.commit().event, alice.commit().event]
  })
  after(async () => {
    await host.close()
    await plc.stop()
  })

  it('a whole stream passes, and absorbing it again (a restart) changes nothing', async () => {
    const l = ledger()
    assert.deepEqual(await l.absorb(stream(commits)), [])
    assert.deepEqual(await l.absorb(stream(commits)), [])
    assert.equal(l.commits.size, 4)
    assert.equal(l.revs.get(alice.did)?.length, 4)
  })

  it('a gap in seq', async () => {
    const events = stream(commits)
    events.splice(1, 1)
    const problems = await ledger().absorb(events)
    assert.match(problems.join('\n'), /gap or repeat/)
  })

  it('a frame rewritten across a restart, and a replay shorter than what was served', async () => {
    const l = ledger()
    await l.absorb(stream(commits))
    const rewritten = stream([commits[0]!, alice.identityEvent('other.test'), commits[2]!, commits[3]!])
    assert.match((await l.absorb(rewritten)).join('\n'), /seq 2 changed across a restart/)
    const served = ledger()
    await served.absorb(stream(commits))
    assert.match((await served.absorb(stream(commits.slice(0, 2)))).join('\n'), /served before the kill/)
  })

  it('a commit twice, and a commit skipping its predecessor', async () => {
    assert.match((await ledger().absorb(stream([...commits, commits[3]!]))).join('\n'), /on the stream twice/)
    assert.match((await ledger().absorb(stream([commits[0]!, commits[2]!]))).join('\n'), /since .*the previous commit is/)
  })

  it('a commit signed by another key', async () => {
    const other = await createRelayTestAccount(plc.url, host, 'other-key.test')
    const forged = alice.detached({ keypair: other.keypair }).event
    assert.match((await ledger().absorb(stream([...commits, forged]))).join('\n'), /does not verify: BadCommitSignature/)
  })

  it('createdText reads the record text of a single-create commit', () => {
    const event = withSeq(alice.detached().event, 1)
    assert.match(event.t === '#commit' ? String(createdText(event)) : '', /^post \d+$/)
    assert.equal(event.t === '#commit' ? createdText({ ...event, ops: [] }) : '', null)
  })
})
