/**
 * `atfed dev --seed`: demo content, so the feeds, the labeler and the
 * firehose have something to show. Written through the PDSes' public XRPC
 * API, exactly as an app would:
 *
 *   accounts   alice.test and carol.test on PDS 1, bob.test on PDS 2
 *   posts      per account, one applyWrites (atomic): a profile and posts;
 *              some carry the feed keyword (#atfed), carol's has the word
 *              the labeler's demo rule labels (`spoiler`), alice's has an
 *              image (a PNG drawn in code, uploaded with uploadBlob)
 *   social     per account, one applyWrites: follows and likes of the
 *              others' posts (found with listRecords on their PDS)
 *   feeds      the feed generator records, from the publisher account
 *              (feedgen/publish.ts: putRecord, so publishing twice is an update)
 *
 * Idempotent: each step is recorded in DATA/dev.json when it is done (an
 * account as soon as it exists), and a done step never runs again; a seed
 * cut short resumes where it stopped.
 */
import { XrpcClient } from '../core/xrpc/client.ts'
import { DEFAULT_FEEDS } from '../feedgen/server.ts'
import { publishFeedGenerator } from '../feedgen/publish.ts'
import { createDevAccount, login, step } from './dev-accounts.ts'
import type { Session } from './dev-accounts.ts'
import { LAST_SEED_STEP, SEED_KEYWORD, SEED_LABEL_WORD, writeDevState } from './dev-layout.ts'
import type { DevAccount, DevState } from './dev-layout.ts'
import { demoPng } from './dev-png.ts'

export { SEED_KEYWORD, SEED_LABEL_WORD }

type DemoPost = { readonly text: string; readonly image?: true }
type Demo = { readonly handle: string; readonly pds: DevAccount['pds']; readonly name: string; readonly posts: readonly DemoPost[]; readonly follows: readonly string[] }

const DEMO: readonly Demo[] = [
  {
    handle: 'alice.test', pds: 'pds1', name: 'Alice', follows: ['bob.test'],
    posts: [
      { text: `Hello from alice on PDS 1! A whole network on one machine. ${SEED_KEYWORD}` },
      { text: `A tiny picture, drawn in code ${SEED_KEYWORD}`, image: true },
      { text: 'A post without the keyword: it is in the firehose, not in the keyword feed.' },
    ],
  },
  {
    handle: 'bob.test', pds: 'pds2', name: 'Bob', follows: ['alice.test', 'carol.test'],
    posts: [
      { text: `bob here, on the second PDS; the relay merges both. ${SEED_KEYWORD}` },
      { text: 'Tail it yourself: atfed firehose --url http://127.0.0.1:2470' },
    ],
  },
  {
    handle: 'carol.test', pds: 'pds1', name: 'Carol', follows: ['alice.test', 'bob.test'],
    posts: [{ text: `${SEED_LABEL_WORD}: the relay checks every commit signature before it passes it on.` }],
  },
]

export type SeedOptions = {
  dataDir: string
  pdsUrls: { readonly pds1: string; readonly pds2: string }
  feedgenDid: string
  log: (line: string) => void
}

type PostRef = { uri: string; cid: string }

export async function seedNetwork(initial: DevState, options: SeedOptions): Promise<DevState> {
  let state = initial
  const save = (next: DevState) => {
    writeDevState(options.dataDir, next)
    state = next
  }
  const markDone = (name: string) => save({ ...state, seed: { ...state.seed, done: [...state.seed.done, name] } })
  const run = async (name: string, body: () => Promise<void>) => {
    if (state.seed.done.includes(name)) return
    options.log(`seed: ${name}`)
    await body()
    markDone(name)
  }
  for (const demo of DEMO) {
    if (state.seed.accounts[demo.handle] !== undefined) continue
    const account = await createDevAccount(options.pdsUrls[demo.pds], demo.handle, demo.pds)
    options.log(`seed: created ${demo.handle} (${account.did}) on ${demo.pds}`)
    save({ ...state, seed: { ...state.seed, accounts: { ...state.seed.accounts, [demo.handle]: account } } })
  }
  const accountOf = (handle: string): DevAccount => state.seed.accounts[handle] as DevAccount
  for (const demo of DEMO) await run(`posts ${demo.handle}`, () => writePosts(demo, accountOf(demo.handle), options))
  for (const demo of DEMO) await run(`social ${demo.handle}`, () => writeSocial(demo, { accountOf, options }))
  await run(LAST_SEED_STEP, () => publishFeeds(state, options))
  return state
}

async function writes(pdsUrl: string, session: Session, items: readonly { collection: string; value: unknown; rkey?: string }[]): Promise<void> {
  const client = new XrpcClient({ service: pdsUrl })
  const input = {
    repo: session.did,
    writes: items.map((w) => ({ $type: 'com.atproto.repo.applyWrites#create', collection: w.collection, value: w.value, ...(w.rkey === undefined ? {} : { rkey: w.rkey }) })),
  }
  await step(`write to ${session.did} on ${pdsUrl}`, () => client.procedure('com.atproto.repo.applyWrites', input, { token: session.accessJwt }))
}

async function writePosts(demo: Demo, account: DevAccount, options: SeedOptions): Promise<void> {
  const pdsUrl = options.pdsUrls[demo.pds]
  const session = await login(pdsUrl, account)
  const client = new XrpcClient({ service: pdsUrl })
  const now = Date.now()
  const items: { collection: string; value: unknown; rkey?: string }[] = [
    { collection: 'app.bsky.actor.profile', rkey: 'self', value: { $type: 'app.bsky.actor.profile', displayName: demo.name, description: `Demo account on ${demo.pds}` } },
  ]
  for (const [i, post] of demo.posts.entries()) {
    const createdAt = new Date(now - (demo.posts.length - i) * 1000).toISOString()
    let embed: unknown
    if (post.image === true) {
      const uploaded = await step(`upload an image to ${pdsUrl}`, () =>
        client.procedure<{ blob: unknown }>('com.atproto.repo.uploadBlob', demoPng(), { token: session.accessJwt, encoding: 'image/png' }),
      )
      embed = { $type: 'app.bsky.embed.images', images: [{ image: uploaded.body.blob, alt: 'A gradient with a white diagonal stripe', aspectRatio: { width: 64, height: 64 } }] }
    }
    const value = { $type: 'app.bsky.feed.post', text: post.text, langs: ['en'], createdAt, ...(embed === undefined ? {} : { embed }) }
    items.push({ collection: 'app.bsky.feed.post', value })
  }
  await writes(pdsUrl, session, items)
}

async function firstPostOf(pdsUrl: string, did: string): Promise<PostRef | null> {
  const client = new XrpcClient({ service: pdsUrl })
  const res = await step(`list the posts of ${did}`, () =>
    client.query<{ records: PostRef[] }>('com.atproto.repo.listRecords', { repo: did, collection: 'app.bsky.feed.post', limit: 100, reverse: true }),
  )
  const first = res.body.records[0]
  return first === undefined ? null : { uri: first.uri, cid: first.cid }
}

async function writeSocial(demo: Demo, ctx: { accountOf: (handle: string) => DevAccount; options: SeedOptions }): Promise<void> {
  const { accountOf, options } = ctx
  const account = accountOf(demo.handle)
  const pdsUrl = options.pdsUrls[demo.pds]
  const session = await login(pdsUrl, account)
  const createdAt = new Date().toISOString()
  const items: { collection: string; value: unknown }[] = []
  for (const handle of demo.follows) {
    const other = accountOf(handle)
    items.push({ collection: 'app.bsky.graph.follow', value: { $type: 'app.bsky.graph.follow', subject: other.did, createdAt } })
    const post = await firstPostOf(options.pdsUrls[other.pds], other.did)
    if (post !== null) items.push({ collection: 'app.bsky.feed.like', value: { $type: 'app.bsky.feed.like', subject: post, createdAt } })
  }
  await writes(pdsUrl, session, items)
}

async function publishFeeds(state: DevState, options: SeedOptions): Promise<void> {
  const publisher = state.publisher
  if (publisher === null) return
  for (const feed of DEFAULT_FEEDS) {
    await step(`publish the ${feed.name} feed`, () =>
      publishFeedGenerator({
        pds: options.pdsUrls[publisher.pds],
        identifier: publisher.did,
        password: publisher.password,
        feed: feed.name,
        serviceDid: options.feedgenDid,
        displayName: `atfed ${feed.name}`,
        description: feed.description,
      }),
    )
  }
}
