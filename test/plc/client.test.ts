/**
 * PlcClient against misbehaving directories (a raw node:http server): size
 * cap, deadline, redirects, non-JSON and malformed answers, and the mapping
 * of plc.directory's `{message}`-only refusals.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import { PLC_CLIENT_RESPONSE_BYTES_MAX } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { PlcClient } from '../../did-resolver/plc/client.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { createGenesisOp } from '../../did-resolver/plc/op-builder.ts'

const DID = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' as Did
let server: http.Server
let url: string
let respond: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) => res.end()

before(async () => {
  server = http.createServer((req, res) => respond(req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

const key = generateKeypair('k256')
const genesis = createGenesisOp({
  signingKey: key.publicKey.didKey,
  rotationKeys: [key.publicKey.didKey],
  handle: 'c.test',
  pds: 'https://pds.test',
  signer: key,
})

test('responses over the cap are ResponseTooLarge (declared or streamed), at the edge', { timeout: 60_000 }, async () => {
  const client = new PlcClient(url)
  const body = (n: number) => JSON.stringify({ ...genesis.op, sig: 'x'.repeat(n) })
  const exact = body(PLC_CLIENT_RESPONSE_BYTES_MAX - body(0).length)
  assert.equal(exact.length, PLC_CLIENT_RESPONSE_BYTES_MAX)
  respond = (_req, res) => res.end(exact)
  // At the cap the body is read (and then refused as an op: its sig is too long to be one).
  await assert.rejects(client.getLastOp(DID), { name: 'LimitExceeded' })
  respond = (_req, res) => res.end(`${exact} `)
  await assert.rejects(client.getLastOp(DID), { name: 'ResponseTooLarge' })
  respond = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write(exact)
    res.end(' ')
  }
  await assert.rejects(client.getLastOp(DID), { name: 'ResponseTooLarge' })
})

test('deadline, redirects and unreachable hosts', { timeout: 60_000 }, async () => {
  respond = () => {} // never answers
  await assert.rejects(new PlcClient(url, { timeoutMs: 150 }).getLastOp(DID), { name: 'PlcTimeout' })
  respond = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('[') // headers, then a trickle that never ends
  }
  await assert.rejects(new PlcClient(url, { timeoutMs: 150 }).getAuditLog(DID), { name: 'PlcTimeout' })
  respond = (_req, res) => {
    res.writeHead(302, { location: 'http://127.0.0.1:1/' })
    res.end()
  }
  await assert.rejects(new PlcClient(url).getLastOp(DID), { name: 'PlcUnavailable' })
  await assert.rejects(new PlcClient('http://127.0.0.1:1').getLastOp(DID), { name: 'PlcUnavailable' })
})

test('status and body mapping: 404, 410, 400 with and without an error name, 500, bad JSON', { timeout: 60_000 }, async () => {
  const client = new PlcClient(`${url}/`)
  const answer = (status: number, body: string) => {
    respond = (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(body)
    }
  }
  answer(404, '{"message":"DID not registered"}')
  await assert.rejects(client.getDocument(DID), { name: 'DidNotFound', message: 'DID not registered' })
  answer(410, '{"message":"DID not available"}')
  await assert.rejects(client.getDocumentData(DID), { name: 'DidDeactivated' })
  answer(400, '{"message":"Invalid signature on op"}')
  await assert.rejects(client.submitOp(genesis.did, genesis.op), { name: 'PlcOpRejected', message: 'Invalid signature on op' })
  answer(400, '{"error":"LateRecovery","message":"too late"}')
  await assert.rejects(client.submitOp(genesis.did, genesis.op), { name: 'LateRecovery' })
  answer(400, '{"error":"<script>","message":"x"}')
  await assert.rejects(client.submitOp(genesis.did, genesis.op), { name: 'PlcOpRejected' })
  answer(500, 'oops')
  await assert.rejects(client.getLog(DID), { name: 'PlcRequestFailed' })
  answer(200, 'not json')
  await assert.rejects(client.getLog(DID), { name: 'InvalidPlcResponse' })
  answer(200, '{"not":"an array"}')
  await assert.rejects(client.getAuditLog(DID), { name: 'InvalidPlcResponse' })
  answer(200, JSON.stringify([{ did: 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb', operation: genesis.op, cid: 'x', nullified: false, createdAt: '2025-01-01T00:00:00Z' }]))
  await assert.rejects(client.getAuditLog(DID), { name: 'InvalidPlcResponse' })
  answer(200, JSON.stringify({ id: 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb' }))
  await assert.rejects(client.getDocument(DID), { name: 'InvalidPlcResponse' })
  answer(200, JSON.stringify({ ...genesis.op, extra: 1 }))
  await assert.rejects(client.getLastOp(DID), { name: 'InvalidOperation' })
  // The request itself: POST with a JSON body to /<did>, no trailing-slash doubling.
  let seen = ''
  respond = (req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      seen = `${req.method} ${req.url} ${req.headers['content-type']} ${body}`
      res.end('OK')
    })
  }
  await client.submitOp(genesis.did, genesis.op)
  assert.equal(seen, `POST /${encodeURIComponent(genesis.did)} application/json ${JSON.stringify(genesis.op)}`)
})
