/**
 * `atfed car export` and `atfed car import` as child processes against a
 * test PDS (accounts and records through @atproto/api):
 *   - export streams getRepo to a file (a handle works too), prints
 *     {did, file, bytes}, reports progress on stderr; the file passes the
 *     full repo check and holds every record;
 *   - import into the same account once deactivated (a restore), then
 *     activate: the repo has the same records; importing into an active
 *     account is AccountActive;
 *   - failures are one line with the XRPC error name, and a failed export
 *     leaves no file behind (no FILE, no FILE.part).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AtpAgent } from '@atproto/api'
import { withRepoCarFile } from '../../cli/car-file.ts'
import { walkRepoLeaves } from '../../core/repo/repo-walk.ts'
import { assertOneLineError, runAtfed } from '../helpers/atfed-cli.ts'
import { startPlcForPds, startTestPds } from '../helpers/pds.ts'
import type { TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const PASSWORD = 'erin-password'
let plc: TestPlc
let pds: TestPds
let erin: AtpAgent
let dir: string
const paths: string[] = []

async function repoPaths(file: string): Promise<string[]> {
  return withRepoCarFile(file, {}, async ({ repo, reader }) => [...walkRepoLeaves(reader, repo.root)].map((leaf) => leaf.key))
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'atfed-car-transfer-'))
  plc = await startPlcForPds()
  pds = await startTestPds({ plc })
  erin = new AtpAgent({ service: pds.publicUrl })
  await erin.createAccount({ handle: 'erin.test', email: 'erin@example.test', password: PASSWORD })
  await erin.upsertProfile(() => ({ displayName: 'Erin' }))
  for (let i = 0; i < 12; i++) {
    const res = await erin.post({ text: `post ${i}`, createdAt: new Date().toISOString() })
    paths.push(res.uri.split('/').slice(3).join('/'))
  }
  paths.push('app.bsky.actor.profile/self')
  paths.sort()
})

after(async () => {
  await pds?.stop()
  await plc?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('atfed car export / import', () => {
  test('export writes the whole repo to a file, with progress on stderr', async () => {
    const file = join(dir, 'erin.car')
    const out = await runAtfed(['car', 'export', '--pds', pds.publicUrl, '--did', 'erin.test', '--out', file])
    assert.equal(out.code, 0, out.stderr)
    const summary = JSON.parse(out.stdout) as { did: string; file: string; bytes: number }
    assert.deepEqual(summary, { did: erin.session!.did, file, bytes: statSync(file).size })
    assert.match(out.stderr, /export did:plc:\S+: done, .* \(\d+ bytes\)/)
    assert.ok(!existsSync(`${file}.part`))
    assert.deepEqual(await repoPaths(file), paths)
    const inspect = await runAtfed(['car', 'inspect', file])
    assert.equal(JSON.parse(inspect.stdout).did, erin.session!.did)
  })

  test('import restores the repo into the deactivated account; an active account refuses it', async () => {
    const file = join(dir, 'erin-restore.car')
    assert.equal((await runAtfed(['car', 'export', '--pds', pds.publicUrl, '--did', erin.session!.did, '--out', file])).code, 0)
    const login = ['--pds', pds.publicUrl, '--handle', 'erin.test', '--password', PASSWORD]
    assertOneLineError(await runAtfed(['car', 'import', ...login, file]), 'AccountActive')
    await erin.com.atproto.server.deactivateAccount({})
    const out = await runAtfed(['car', 'import', ...login, file])
    assert.equal(out.code, 0, out.stderr)
    assert.deepEqual(JSON.parse(out.stdout), { did: erin.session!.did, file, bytes: statSync(file).size })
    assert.match(out.stderr, /import did:plc:\S+: done/)
    await erin.com.atproto.server.activateAccount()
    const again = join(dir, 'erin-again.car')
    assert.equal((await runAtfed(['car', 'export', '--pds', pds.publicUrl, '--did', erin.session!.did, '--out', again])).code, 0)
    assert.deepEqual(await repoPaths(again), paths)
  })

  test('failures are one line with the error name and leave no file', async () => {
    const file = join(dir, 'missing.car')
    assertOneLineError(await runAtfed(['car', 'export', '--pds', pds.publicUrl, '--did', 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', '--out', file]), 'RepoNotFound')
    assert.ok(!existsSync(file) && !existsSync(`${file}.part`))
    const login = ['--pds', pds.publicUrl, '--handle', 'erin.test', '--password', 'wrong']
    assertOneLineError(await runAtfed(['car', 'import', ...login, join(dir, 'erin.car')]), 'AuthenticationRequired')
    assertOneLineError(await runAtfed(['car', 'import', ...login, join(dir, 'nothing-here.car')]), 'FileNotFound')
    const noOut = await runAtfed(['car', 'export', '--pds', pds.publicUrl, '--did', 'erin.test'])
    assert.equal(noOut.code, 1)
    assert.match(noOut.stderr, /required option '--out <file>' not specified/)
  })
})
