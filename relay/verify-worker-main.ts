/**
 * A verification worker thread: takes VerifyRequests from the pool, runs the
 * same summary functions as the inline verifier, answers VerifyResponses.
 * Loaded through verify-worker.js (which registers the TypeScript loader).
 */
import { parentPort } from 'node:worker_threads'
import { isAtfedError } from '../core/errors.ts'
import { assertNativeSecp256k1 } from '../core/crypto/secp256k1-native.ts'
import { verifyCommitSummary, verifySyncSummary } from './verifier.ts'
import { commitFromWire, syncFromWire } from './verify-wire.ts'
import type { VerifyRequest, VerifyResponse } from './verify-wire.ts'

function answer(request: VerifyRequest): VerifyResponse {
  try {
    const summary =
      request.kind === 'commit'
        ? verifyCommitSummary(commitFromWire(request.event), request.key, request.nowMs)
        : verifySyncSummary(syncFromWire(request.event), request.key, request.nowMs)
    return { id: request.id, ok: true, commit: summary.commit.bytes, data: summary.data.bytes }
  } catch (err) {
    const name = isAtfedError(err) ? err.name : 'InvalidCommit'
    return { id: request.id, ok: false, name, message: err instanceof Error ? err.message : String(err) }
  }
}

const port = parentPort
if (port === null) throw new Error('verify-worker-main.ts must run in a worker thread')
assertNativeSecp256k1()
port.on('message', (request: VerifyRequest) => port.postMessage(answer(request)))
port.postMessage({ ready: true })
