/**
 * Who the labeler is: a DID whose document has the `#atproto_label`
 * verification method (Multikey, the label signing key) and the
 * `#atproto_labeler` service (type AtprotoLabeler, endpoint = our public
 * origin: scheme + host [+ port], no path — AppViews and clients fetch
 * queryLabels/subscribeLabels there).
 *
 * Two ways, picked by configuration (config.ts):
 * - did:plc (when a PLC directory is configured — what the reference
 *   labelers use): created at the directory on first start with a
 *   rotation key of our own (keys.ts), no handle and no PDS. The genesis op
 *   is written to `<data>/labeler-identity.json` BEFORE it is submitted, so
 *   a crash in between resubmits the same op instead of minting a second
 *   DID. On every start the directory's current state is compared with our
 *   key and endpoint; when they differ (new hostname, new port in dev) an
 *   update op signed by the rotation key is submitted, keeping every other
 *   key and service of the DID as it was.
 * - did:web:<hostname>: nothing to register; the server answers
 *   `/.well-known/did.json` with `webDidDocument`.
 * A data directory that holds a did:plc identity refuses to start as
 * did:web (and the reverse is impossible: did:web keeps no file), so the
 * label `src` never changes silently.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Keypair } from '../../core/crypto/keypair.ts'
import { AtfedError, isAtfedError } from '../../core/errors.ts'
import { LABELER_PLC_TRIES_MAX } from '../../core/limits.ts'
import { isPlcDid } from '../../core/syntax/did.ts'
import type { Did } from '../../core/syntax/did.ts'
import { PlcClient } from '../../did-resolver/plc/client.ts'
import { createUpdateOp, signOp } from '../../did-resolver/plc/op-builder.ts'
import { didForGenesis, parsePlcOp } from '../../did-resolver/plc/operation.ts'
import type { PlcOperation } from '../../did-resolver/plc/operation.ts'
import { loadKeyFile, ROTATION_KEY_FILE } from './keys.ts'

export const LABELER_SERVICE_ID = 'atproto_labeler'
export const LABELER_SERVICE_TYPE = 'AtprotoLabeler'
export const LABEL_KEY_ID = 'atproto_label'
export const IDENTITY_FILE = 'labeler-identity.json'

export type PlcIdentityOptions = { dataDir: string; plcUrl: string; endpoint: string; signingKey: Keypair }
export type PlcIdentityResult = { did: Did; created: boolean; updated: boolean }

/** The did:web document: absolute key id, relative service id (as Ozone serves it). */
export function webDidDocument(did: Did, endpoint: string, signingKey: Keypair): object {
  return {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
    id: did,
    verificationMethod: [
      { id: `${did}#${LABEL_KEY_ID}`, type: 'Multikey', controller: did, publicKeyMultibase: signingKey.publicKey.multikey },
    ],
    service: [{ id: `#${LABELER_SERVICE_ID}`, type: LABELER_SERVICE_TYPE, serviceEndpoint: endpoint }],
  }
}

/** The DID a data directory was given on an earlier start (plc mode), or null. */
export function storedPlcDid(dataDir: string): Did | null {
  return readIdentityFile(dataDir)?.did ?? null
}

function readIdentityFile(dataDir: string): { did: Did; genesis: PlcOperation } | null {
  const path = join(dataDir, IDENTITY_FILE)
  let raw: { did?: unknown; genesis?: unknown }
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as typeof raw
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new AtfedError('InvalidConfig', `${path} is not readable JSON`, { cause: err })
  }
  const genesis = parsePlcOp(raw.genesis)
  if (genesis.type !== 'plc_operation' || !isPlcDid(raw.did) || didForGenesis(genesis) !== raw.did) {
    throw new AtfedError('InvalidConfig', `${path} does not hold a labeler identity`)
  }
  return { did: raw.did, genesis }
}

function writeIdentityFile(dataDir: string, did: Did, genesis: PlcOperation): void {
  const path = join(dataDir, IDENTITY_FILE)
  writeFileSync(`${path}.tmp`, `${JSON.stringify({ did, genesis }, null, 2)}\n`, { mode: 0o600 })
  renameSync(`${path}.tmp`, path)
}

async function withTries<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      const transient = isAtfedError(err, 'PlcUnavailable') || isAtfedError(err, 'PlcTimeout') || isAtfedError(err, 'PlcRequestFailed')
      if (!transient || attempt >= LABELER_PLC_TRIES_MAX) throw err
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt))
    }
  }
}

function genesisFor(options: PlcIdentityOptions, rotationKey: Keypair): PlcOperation {
  const unsigned = {
    type: 'plc_operation' as const,
    rotationKeys: [rotationKey.publicKey.didKey],
    verificationMethods: { [LABEL_KEY_ID]: options.signingKey.publicKey.didKey },
    alsoKnownAs: [],
    services: { [LABELER_SERVICE_ID]: { type: LABELER_SERVICE_TYPE, endpoint: options.endpoint } },
    prev: null,
  }
  return parsePlcOp(signOp(unsigned, rotationKey)) as PlcOperation
}

/** Create (first start) or bring up to date the labeler's did:plc. See the module header. */
export async function ensurePlcIdentity(options: PlcIdentityOptions): Promise<PlcIdentityResult> {
  const rotationKey = loadKeyFile(options.dataDir, ROTATION_KEY_FILE)
  const plc = new PlcClient(options.plcUrl)
  let stored = readIdentityFile(options.dataDir)
  let created = false
  if (stored === null) {
    const genesis = genesisFor(options, rotationKey)
    stored = { did: didForGenesis(genesis), genesis }
    writeIdentityFile(options.dataDir, stored.did, genesis)
  }
  const { did, genesis } = stored
  const data = await withTries(() => plc.getDocumentData(did)).catch(async (err: unknown) => {
    if (!isAtfedError(err, 'DidNotFound')) throw err
    await withTries(() => plc.submitOp(did, genesis))
    created = true
    return withTries(() => plc.getDocumentData(did))
  })
  const service = data.services[LABELER_SERVICE_ID]
  const current =
    data.verificationMethods[LABEL_KEY_ID] === options.signingKey.publicKey.didKey &&
    service?.type === LABELER_SERVICE_TYPE &&
    service.endpoint === options.endpoint
  if (current) return { did, created, updated: false }
  const last = await withTries(() => plc.getLastOp(did))
  if (last.type === 'plc_tombstone') throw new AtfedError('LabelerDidTombstoned', `${did} was tombstoned at the PLC directory`)
  const update = createUpdateOp(last, {
    signer: rotationKey,
    verificationMethods: { [LABEL_KEY_ID]: options.signingKey.publicKey.didKey },
    services: { [LABELER_SERVICE_ID]: { type: LABELER_SERVICE_TYPE, endpoint: options.endpoint } },
  })
  await withTries(() => plc.submitOp(did, update.op))
  return { did, created, updated: true }
}
