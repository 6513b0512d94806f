/**
 * PLC data for the identity and plc sections: genesis ops built with our op
 * builder (did-resolver/plc/op-builder.ts), one rotation key for all of them
 * (as a PDS signs for its accounts), a fresh signing key each, handles
 * `<prefix><i>.test`. Ops are built before any timing starts, so the numbers
 * measure the directory, not the client's signing.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeypair } from '../core/crypto/keypair.ts'
import type { Did } from '../core/syntax/did.ts'
import { createGenesisOp } from '../did-resolver/plc/op-builder.ts'
import type { PlcOperation } from '../did-resolver/plc/operation.ts'

export type GenesisFixture = { did: Did; handle: string; body: string }

export function makeGenesisOps(count: number, options: { handlePrefix: string }): GenesisFixture[] {
  const rotation = generateKeypair('k256')
  const out: GenesisFixture[] = []
  for (let i = 0; i < count; i++) {
    const handle = `${options.handlePrefix}${i}.test`
    const built = createGenesisOp({
      signingKey: generateKeypair('k256').publicKey.didKey,
      rotationKeys: [rotation.publicKey.didKey],
      handle,
      pds: 'https://pds.example.com',
      signer: rotation,
    })
    out.push({ did: built.did, handle, body: JSON.stringify(built.op satisfies PlcOperation) })
  }
  return out
}

/** POST one op; anything but 200 is an error (the bench only sends valid ops). */
export async function postGenesis(url: string, fixture: GenesisFixture): Promise<void> {
  const res = await fetch(`${url}/${fixture.did}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: fixture.body,
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`PLC refused ${fixture.did}: ${res.status} ${text.slice(0, 200)}`)
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}
