/**
 * Identity resolution (issue 3): `IdentityResolver.resolveIdentity` against a
 * real loopback PLC directory (our did-resolver/plc server, in this process)
 * and a loopback DNS server answering `_atproto.<handle>` TXT records, so
 * every handle verifies both ways, as in production.
 *
 * Rows: cold resolutions (DID document over HTTP + handle over DNS, one at a
 * time: this also warms the caches), then cached resolutions by DID and by
 * handle, cycling through all N warmed identities. There is no in-process
 * reference resolver to compare with (the reference's IdResolver needs the
 * same servers and is not a test oracle here), so the reference column is '-'.
 */
import { IdentityResolver } from '../did-resolver/identity-resolver.ts'
import { startPlcServer } from '../did-resolver/plc/server.ts'
import { startDnsServer } from '../test/helpers/dns-server.ts'
import { measureRate, perSecond, timeAsync } from './harness.ts'
import type { BenchSection, SectionContext } from './harness.ts'
import { makeGenesisOps, postGenesis, tempDir } from './plc-fixture.ts'

async function runOurs(context: SectionContext): Promise<void> {
  const count = context.quick ? 100 : 2_000
  const durationMs = context.quick ? 200 : 2_000
  const dir = tempDir('atfed-bench-identity-')
  const plc = await startPlcServer({ port: 0, dataDir: dir.path })
  const dns = await startDnsServer()
  const resolver = new IdentityResolver({
    plcUrl: plc.url,
    dnsServers: [dns.address],
    allowPrivateAddresses: true,
    // DNS answers first; the parallel well-known fetch gets a quick 404 here.
    wellKnownUrl: () => `${plc.url}/.well-known/atproto-did`,
  })
  try {
    context.progress(`creating ${count} identities`)
    const ids = makeGenesisOps(count, { handlePrefix: 'user' })
    for (const id of ids) {
      await postGenesis(plc.url, id)
      dns.records.set(`_atproto.${id.handle}`, { txt: [`did=${id.did}`] })
    }
    context.progress('cold resolutions')
    const coldMs = await timeAsync(async () => {
      for (const id of ids) {
        const resolved = await resolver.resolveIdentity(id.did)
        if (!resolved.handleVerified) throw new Error(`${id.did}: handle ${id.handle} did not verify`)
      }
    })
    const note = `${count} identities warmed; DID docs from our PLC server over loopback HTTP, handles via a loopback DNS server; no in-process reference`
    context.record({ name: 'cold resolution (PLC + DNS)', value: perSecond(count, coldMs), unit: 'ops/s', higherIsBetter: true, note })
    context.progress('cached resolutions')
    const byDid = await measureRate((i) => resolver.resolveIdentity(ids[i % count]!.did), { durationMs })
    const byHandle = await measureRate((i) => resolver.resolveIdentity(ids[i % count]!.handle), { durationMs })
    context.record({ name: 'cached resolution by DID', value: byDid, unit: 'ops/s', higherIsBetter: true, note })
    context.record({ name: 'cached resolution by handle', value: byHandle, unit: 'ops/s', higherIsBetter: true, note })
    const stats = resolver.cacheStats.dids
    context.info(`DID cache after the run: ${stats.hits} hits, ${stats.misses} misses, ${stats.fetches} fetches`)
  } finally {
    resolver.close()
    await dns.close()
    await plc.close()
    dir.remove()
  }
}

export const section: BenchSection = {
  name: 'identity',
  title: 'Identity resolution',
  sides: ['ours'],
  run: (_side, context) => runOurs(context),
}
