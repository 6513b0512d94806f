/**
 * Verification on worker threads, behind the same EventVerifier interface
 * as the inline verifier: the relay's main thread keeps the network, the
 * state and the sequencer; the CPU-heavy checks (CAR re-hash, signature,
 * MST inversion) are spread over `workers` threads.
 *
 * Ordering is not this module's concern: ingest.ts applies outcomes in
 * upstream order whatever order the workers answer in. Requests go to the
 * worker with the fewest in flight. A worker that dies fails its in-flight
 * requests ('VerifierUnavailable', counted as 'InvalidCommit' by the caller)
 * and is replaced. Each worker asserts at start that native secp256k1 loaded.
 */
import { Worker } from 'node:worker_threads'
import { AtfedError } from '../core/errors.ts'
import type { PublicKey } from '../core/crypto/key-types.ts'
import type { CommitEvent, SyncEvent } from '../core/stream/events.ts'
import type { EventVerifier, VerifiedSummary } from './verifier.ts'
import { commitToWire, summaryFromResponse, syncToWire } from './verify-wire.ts'
import type { VerifyRequestBody, VerifyResponse } from './verify-wire.ts'

const WORKER_URL = new URL('./verify-worker.js', import.meta.url)

type Pending = { resolve: (summary: VerifiedSummary) => void; reject: (err: unknown) => void }
type Slot = { worker: Worker; inflight: Map<number, Pending> }

function spawn(): Promise<Slot> {
  const worker = new Worker(WORKER_URL)
  const slot: Slot = { worker, inflight: new Map() }
  return new Promise((resolve, reject) => {
    worker.once('error', reject)
    worker.once('message', () => {
      worker.off('error', reject)
      resolve(slot)
    })
  })
}

export async function startVerifyPool(options: { workers: number; now?: () => number }): Promise<EventVerifier> {
  const now = options.now ?? Date.now
  const slots = await Promise.all(Array.from({ length: options.workers }, () => spawn()))
  let nextId = 1
  let closed = false

  const wire = (index: number): void => {
    const slot = slots[index] as Slot
    slot.worker.on('message', (response: VerifyResponse) => {
      const pending = slot.inflight.get(response.id)
      if (pending === undefined) return
      slot.inflight.delete(response.id)
      try {
        pending.resolve(summaryFromResponse(response))
      } catch (err) {
        pending.reject(err)
      }
    })
    slot.worker.on('exit', () => {
      for (const pending of slot.inflight.values()) pending.reject(new AtfedError('VerifierUnavailable', 'a verification worker exited'))
      slot.inflight.clear()
      if (!closed) void spawn().then((fresh) => ((slots[index] = fresh), wire(index)))
    })
  }
  slots.forEach((_, i) => wire(i))

  const send = (request: VerifyRequestBody): Promise<VerifiedSummary> => {
    if (closed) return Promise.reject(new AtfedError('VerifierUnavailable', 'the verifier is closed'))
    const slot = slots.reduce((best, s) => (s.inflight.size < best.inflight.size ? s : best))
    const id = nextId++
    return new Promise((resolve, reject) => {
      slot.inflight.set(id, { resolve, reject })
      slot.worker.postMessage({ ...request, id })
    })
  }

  return {
    commit: (event: CommitEvent, key: PublicKey) => send({ kind: 'commit', event: commitToWire(event), key: key.didKey, nowMs: now() }),
    sync: (event: SyncEvent, key: PublicKey) => send({ kind: 'sync', event: syncToWire(event), key: key.didKey, nowMs: now() }),
    close: async () => {
      closed = true
      await Promise.all(slots.map((slot) => slot.worker.terminate()))
    },
  }
}
