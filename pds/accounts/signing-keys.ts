/**
 * Accounts' repo signing keypairs, parsed once and kept in a bounded LRU
 * (parsing derives the public key, ~50–300 µs). Keyed by DID and private
 * key, so a rotated key (migration in, key change) is never served stale.
 */
import { BoundedLru } from '../../core/crypto/key-cache.ts'
import { keypairFromPrivateKey, parsePrivateKeyHex, type Keypair } from '../../core/crypto/keypair.ts'
import { PDS_SIGNING_KEY_CACHE_ENTRIES_MAX } from '../../core/limits.ts'
import type { Account } from './account.ts'

export class SigningKeys {
  readonly #cache = new BoundedLru<string, Keypair>(PDS_SIGNING_KEY_CACHE_ENTRIES_MAX)

  get(account: Pick<Account, 'did' | 'signingKey'>): Keypair {
    const cacheKey = `${account.did} ${account.signingKey.type} ${account.signingKey.privateKeyHex}`
    const cached = this.#cache.get(cacheKey)
    if (cached !== undefined) return cached
    const keypair = keypairFromPrivateKey(account.signingKey.type, parsePrivateKeyHex(account.signingKey.privateKeyHex))
    this.#cache.set(cacheKey, keypair)
    return keypair
  }
}
