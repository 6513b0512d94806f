/**
 * Child process for the kill -9 import test: opens the level store at
 * argv[2], prints `ready`, imports the CAR file argv[3] for DID argv[4]
 * (streamed from disk; checked in memory up to argv[5] bytes), prints `done`.
 */
import { createReadStream } from 'node:fs'
import { parseDid } from '../../core/syntax/did.ts'
import { importRepoCar } from '../../core/repo/import.ts'
import { openTempStore } from './repo-store.ts'

const [dir, carPath, did, memoryBytesMax] = process.argv.slice(2)
const temp = await openTempStore(dir!)
process.stdout.write('ready\n')
await importRepoCar(createReadStream(carPath!), { store: temp.store, did: parseDid(did!), memoryBytesMax: Number(memoryBytesMax) })
process.stdout.write('done\n')
await temp.close()
