/**
 * Helpers for the PLC tests: seeded keypairs, a temp data dir, a directory
 * server on 127.0.0.1 with a hand-driven clock, and a raw HTTP poster that
 * returns status and parsed body (so tests can assert on error bodies).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keypairFromPrivateKey, type Keypair } from '../../core/crypto/keypair.ts'
import type { KeyType } from '../../core/crypto/key-types.ts'
import { isValidPrivateScalar } from '../../core/crypto/signature.ts'
import { startPlcServer, type PlcServer } from '../../did-resolver/plc/server.ts'
import type { Rng } from './prng.ts'

export function seededKeypair(rng: Rng, type: KeyType): Keypair {
  for (;;) {
    const d = rng.bytes(32)
    if (isValidPrivateScalar(type, d)) return keypairFromPrivateKey(type, d)
  }
}

export function tempDir(prefix = 'atfed-plc-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

export type Clock = { now: () => number; set(ms: number): void; advance(ms: number): void }

export function manualClock(startMs: number): Clock {
  let t = startMs
  return {
    now: () => t,
    set: (ms) => {
      t = ms
    },
    advance: (ms) => {
      t += ms
    },
  }
}

export type TestPlc = PlcServer & { dataDir: string; clock: Clock; restart(): Promise<TestPlc>; stop(): Promise<void> }

/** A directory on 127.0.0.1 (random port) over a fresh temp dir; `stop` also removes the dir. */
export async function startTestPlc(options: { clock?: Clock; dataDir?: string } = {}): Promise<TestPlc> {
  const clock = options.clock ?? manualClock(Date.parse('2025-01-01T00:00:00.000Z'))
  const dir = options.dataDir === undefined ? tempDir() : { path: options.dataDir, remove: () => {} }
  const server = await startPlcServer({ port: 0, dataDir: dir.path, now: clock.now })
  const self: TestPlc = {
    ...server,
    dataDir: dir.path,
    clock,
    restart: async () => {
      await server.close()
      return startTestPlc({ clock, dataDir: dir.path })
    },
    stop: async () => {
      await server.close()
      rmSync(dir.path, { recursive: true, force: true })
    },
  }
  return self
}

export async function postOp(url: string, did: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/${encodeURIComponent(did)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // plain text ("OK")
  }
  return { status: res.status, body: parsed }
}

export async function getJson(url: string): Promise<{ status: number; body: unknown; type: string }> {
  const res = await fetch(url)
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : JSON.parse(text), type: res.headers.get('content-type') ?? '' }
}
