/**
 * One BlobStore per PDS context, created on first use (`blobStoreFor`).
 *
 * Kept beside the context instead of in it so the blob module owns its
 * state: routes/blobs.ts creates it at start-up (and registers the write
 * hook and the GC timer); other modules that need blobs (importRepo's
 * reindexing, checkAccountStatus's counts, account deletion) ask here.
 * Uploads, the write hook and GC serialize per account on the write path's
 * repo lock (`ctx.writer.withRepoLock`).
 */
import type { PdsContext } from '../context.ts'
import { BlobStore } from './store.ts'

const stores = new WeakMap<PdsContext, BlobStore>()

export function blobStoreFor(ctx: PdsContext): BlobStore {
  let store = stores.get(ctx)
  if (store === undefined) {
    store = BlobStore.open(ctx.db, { dataDir: ctx.config.dataDir, lock: (did, fn) => ctx.writer.withRepoLock(did, fn) })
    stores.set(ctx, store)
  }
  return store
}
