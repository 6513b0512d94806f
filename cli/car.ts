/**
 * `atfed car inspect|ls|verify|unpack FILE`: repo CAR files from the command
 * line. Every subcommand first runs the full repo check (car-file.ts), so a
 * broken CAR fails all of them the same way: exit 1 and `<ErrorName>:
 * <message>` on stderr (cli/main.ts prints it), never a stack trace.
 *
 * - inspect: one JSON object {did, rev, commit, data, version, records, blocks, bytes};
 * - ls: `collection/rkey<TAB>cid` per record, in MST (key) order;
 * - verify [--key did:key:…]: `ok`; with a key the signature is checked too;
 * - unpack --out DIR: each record as atproto JSON at DIR/<collection>/<rkey>.json.
 *   The two path parts must be a valid NSID and record key (no `/`, never
 *   `.` or `..`), so a hostile CAR cannot write outside DIR.
 * Output is written with backpressure, so listing a huge repo stays flat.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve, sep } from 'node:path'
import type { Command } from 'commander'
import { assert, AtfedError } from '../core/errors.ts'
import { parseDidKey } from '../core/crypto/did-key.ts'
import { decodeCbor } from '../core/data/cbor.ts'
import { lexToJson } from '../core/data/json.ts'
import { isNsid } from '../core/syntax/nsid.ts'
import { isRecordKey } from '../core/syntax/record-key.ts'
import { walkRepoLeaves } from '../core/repo/repo-walk.ts'
import { withRepoCarFile } from './car-file.ts'
import { registerCarTransferCommands } from './car-transfer.ts'

const OUTPUT_CHUNK_CHARS = 65_536

export function registerCarCommands(program: Command): void {
  const car = program.command('car').description('export, import, inspect, list, verify and unpack repo CAR files')
  car
    .command('inspect <file>')
    .description('check a repo CAR and print {did, rev, commit, data, version, records, blocks, bytes} as JSON')
    .action((file: string) => inspect(file))
  car
    .command('ls <file>')
    .description('check a repo CAR and list its records as collection/rkey<TAB>cid, in MST order')
    .action((file: string) => list(file))
  car
    .command('verify <file>')
    .description('check a repo CAR completely (and its signature, with --key); prints ok')
    .option('--key <didKey>', 'the signing key the commit must verify with (did:key:…)')
    .action((file: string, options: { key?: string }) => verify(file, options))
  car
    .command('unpack <file>')
    .description('check a repo CAR and write each record as JSON to DIR/<collection>/<rkey>.json')
    .requiredOption('--out <dir>', 'output directory (created if missing)')
    .action((file: string, options: { out: string }) => unpack(file, options.out))
  registerCarTransferCommands(car)
}

async function inspect(file: string): Promise<void> {
  await withRepoCarFile(file, {}, async ({ repo }) => {
    const { commit } = repo
    const out = {
      did: commit.did,
      rev: commit.rev,
      commit: repo.commitCid.toString(),
      data: repo.root.toString(),
      version: commit.version,
      records: repo.records,
      blocks: repo.blocks,
      bytes: repo.bytes,
    }
    await writeOut(`${JSON.stringify(out)}\n`)
  })
}

async function list(file: string): Promise<void> {
  await withRepoCarFile(file, {}, async ({ repo, reader }) => {
    let chunk = ''
    for (const leaf of walkRepoLeaves(reader, repo.root)) {
      chunk += `${leaf.key}\t${leaf.cid.toString()}\n`
      if (chunk.length >= OUTPUT_CHUNK_CHARS) {
        await writeOut(chunk)
        chunk = ''
      }
    }
    await writeOut(chunk)
  })
}

async function verify(file: string, options: { key?: string }): Promise<void> {
  const key = options.key === undefined ? undefined : parseDidKey(options.key)
  await withRepoCarFile(file, key === undefined ? {} : { key }, async () => {
    await writeOut('ok\n')
  })
}

async function unpack(file: string, out: string): Promise<void> {
  const root = resolve(out)
  await withRepoCarFile(file, {}, async ({ repo, reader }) => {
    const made = new Set<string>()
    for (const leaf of walkRepoLeaves(reader, repo.root)) {
      const slash = leaf.key.indexOf('/')
      const collection = leaf.key.slice(0, slash)
      const rkey = leaf.key.slice(slash + 1)
      if (!isNsid(collection) || !isRecordKey(rkey)) {
        throw new AtfedError('InvalidRecordPath', `record path ${JSON.stringify(leaf.key)} is not <nsid>/<record-key>`)
      }
      const dir = join(root, collection)
      const target = join(dir, `${rkey}.json`)
      assert(target.startsWith(root + sep), 'record path escaped the output directory')
      if (!made.has(dir)) {
        await mkdir(dir, { recursive: true })
        made.add(dir)
      }
      const bytes = reader.get(leaf.cid)
      assert(bytes !== undefined, 'record block vanished after the repo check')
      await writeFile(target, `${JSON.stringify(lexToJson(decodeRecord(bytes, leaf.key)), null, 2)}\n`)
    }
    process.stderr.write(`unpacked ${repo.records} records into ${root}\n`)
  })
}

function decodeRecord(bytes: Uint8Array, path: string) {
  try {
    return decodeCbor(bytes)
  } catch (err) {
    throw new AtfedError('InvalidRecord', `record ${path} is not valid DAG-CBOR`, { cause: err })
  }
}

/** Writes to stdout, waiting for it to drain when its buffer is full. */
function writeOut(text: string): Promise<void> {
  if (text === '') return Promise.resolve()
  return new Promise((done, fail) => {
    process.stdout.write(text, (err) => (err ? fail(err) : done()))
  })
}
