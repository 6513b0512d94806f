/**
 * The PLC part of `atfed account migrate`: what to ask the old PDS to sign.
 *
 * Start from the new PDS's recommended credentials
 * (getRecommendedDidCredentials), then keep what the account had that
 * neither PDS manages, read from the DID's current PLC state when the
 * directory answers: rotation keys that are not the old or the new PDS's
 * (a user-held recovery key stays, ahead of the new PDS's key), other
 * verification methods and services (a labeler's `atproto_label` /
 * `atproto_labeler`), and non-`at://` aliases. signPlcOperation REPLACES
 * the maps it is given, so dropping this step would silently remove them.
 * Without the PLC state (did:web, directory unreachable) the recommendation
 * is used as it is, and the caller says so.
 */
import type { PlcDocumentData } from '../did-resolver/plc/document.ts'

export type DidCredentials = {
  rotationKeys?: string[]
  alsoKnownAs?: string[]
  verificationMethods?: { [id: string]: string }
  services?: { [id: string]: { type: string; endpoint: string } }
}

function uniq(items: readonly string[]): string[] {
  return [...new Set(items)]
}

/** The signPlcOperation input: `recommended` (new PDS) merged with what `current` holds beyond the old PDS's. */
export function mergeCredentials(
  recommended: DidCredentials,
  options: { current: PlcDocumentData | null; oldRecommended: DidCredentials },
): DidCredentials {
  const { current, oldRecommended } = options
  if (current === null) return recommended
  const pdsKeys = new Set([...(oldRecommended.rotationKeys ?? []), ...(recommended.rotationKeys ?? [])])
  const userKeys = current.rotationKeys.filter((key) => !pdsKeys.has(key))
  return {
    rotationKeys: uniq([...userKeys, ...(recommended.rotationKeys ?? [])]),
    alsoKnownAs: uniq([...(recommended.alsoKnownAs ?? []), ...current.alsoKnownAs.filter((aka) => !aka.startsWith('at://'))]),
    verificationMethods: { ...current.verificationMethods, ...recommended.verificationMethods },
    services: { ...current.services, ...recommended.services },
  }
}
