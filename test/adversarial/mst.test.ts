/**
 * Adversarial cases §4.2 (MST), fed to the PDS over HTTP: hand-made MST
 * nodes inside a repo CAR whose commit is validly signed by the account's
 * key, sent as `com.atproto.repo.importRepo` (the only way a PDS takes a
 * foreign tree). Each is refused by name, with nothing written and the PDS
 * still answering. The relay's `#commit` ops-vs-diff check (4.2.7) runs in
 * the relay scenarios (test/relay/scenarios/09-inversion-and-limits.json).
 */
import { after, before, describe, it } from 'node:test'
import { encodeCbor } from '../../core/data/cbor.ts'
import { cidForCbor, type CID } from '../../core/data/cid.ts'
import { MST_NODE_ENTRIES_MAX } from '../../core/limits.ts'
import { signCommit } from '../../core/repo/commit.ts'
import { keyHeight } from '../../core/repo/mst/key-height.ts'
import { TidClock } from '../../core/syntax/tid.ts'
import { handMadeCar, sectionBytes } from '../helpers/car-blocks.ts'
import { refused, startImportTarget, type ImportTarget } from './import-target.ts'

const T = { timeout: 30_000 }
const utf8 = (s: string) => new TextEncoder().encode(s)

const RECORD = encodeCbor({ $type: 'app.bsky.feed.post', text: 'mst case', createdAt: '2024-01-01T00:00:00.000Z' })
const RECORD_CID = cidForCbor(RECORD)

/** `count` post keys of height `height`, in sorted order. */
function keysOfHeight(height: number, count: number): string[] {
  const keys: string[] = []
  for (let i = 0; keys.length < count; i++) {
    const key = `app.bsky.feed.post/3k${i.toString(36).padStart(11, 'a')}`
    if (keyHeight(key) === height) keys.push(key)
  }
  return keys.sort()
}

type Entry = { key: string | Uint8Array; t?: CID | null; p?: number }
type Node = { bytes: Uint8Array; cid: CID }

/** An MST node, prefix-compressed against the previous key unless an entry gives its own `p`. */
function node(entries: readonly Entry[], l: CID | null = null): Node {
  let prev: Uint8Array = new Uint8Array(0)
  const e = entries.map((entry) => {
    const key = typeof entry.key === 'string' ? utf8(entry.key) : entry.key
    let shared = 0
    while (shared < prev.length && shared < key.length && prev[shared] === key[shared]) shared++
    const p = entry.p ?? shared
    prev = key
    return { k: key.subarray(Math.min(p, key.length)), p, t: entry.t ?? null, v: RECORD_CID }
  })
  const bytes = encodeCbor({ e, l } as never)
  return { bytes, cid: cidForCbor(bytes) }
}

describe('adversarial §4.2: MST (hand-made trees in importRepo over HTTP)', { timeout: 120_000 }, () => {
  let t: ImportTarget
  before(async () => {
    t = await startImportTarget()
  })
  after(() => t.stop())

  /** A CAR: alice's commit (signed by her key) over `root`, the other nodes, and the record. */
  function repoCar(root: Node, others: Node[] = []): Uint8Array {
    const commit = signCommit({ did: t.did, version: 3, data: root.cid, rev: new TidClock().next(), prev: null }, t.keyA)
    const sections = [commit, root, ...others, { cid: RECORD_CID, bytes: RECORD }].map((b) => sectionBytes(b))
    return handMadeCar({ version: 1, roots: [commit.cid] }, sections)
  }

  const [a0, b0, c0] = keysOfHeight(0, 3) as [string, string, string]
  const [h1, h1b] = keysOfHeight(1, 2) as [string, string]

  it('4.2.1 keys out of order in a node, and duplicate keys → InvalidMstNode', T, async () => {
    await refused(t, repoCar(node([{ key: b0 }, { key: a0 }])), { error: 'InvalidMstNode' })
    await refused(t, repoCar(node([{ key: a0 }, { key: a0 }])), { error: 'InvalidMstNode' })
  })

  it('4.2.2 keys at the wrong layer for their hash height (a height-1 key beside height-0 keys) → InvalidMstNode / NonCanonicalMst', T, async () => {
    await refused(t, repoCar(node([{ key: a0 }, { key: h1 }])), { error: 'InvalidMstNode' }) // mixed heights in one node
    // A height-0 key alone under a height-1 layer: the root must be the child itself.
    const child = node([{ key: a0 }])
    await refused(t, repoCar(node([{ key: h1 }], child.cid), [child]), { error: 'NonCanonicalMst' })
  })

  it('4.2.3 wrong prefix compression: p past the previous key, or p > 0 on the first entry → InvalidMstNode', T, async () => {
    await refused(t, repoCar(node([{ key: a0 }, { key: b0, p: a0.length + 5 }])), { error: 'InvalidMstNode' })
    await refused(t, repoCar(node([{ key: a0, p: 3 }])), { error: 'InvalidMstNode' })
  })

  it('4.2.4 an empty non-root node, a root that is only a pointer, subtrees on the wrong side → NonCanonicalMst', T, async () => {
    const empty = node([])
    await refused(t, repoCar(node([{ key: h1, t: empty.cid }]), [empty]), { error: 'NonCanonicalMst' })
    const inner = node([{ key: a0 }, { key: b0 }])
    await refused(t, repoCar(node([], inner.cid), [inner]), { error: 'NonCanonicalMst' })
    // Two subtree pointers side by side (l and the first entry's t with one key between is fine; here both
    // subtrees hold keys on the wrong side of the separating key).
    const left = node([{ key: c0 }])
    const right = node([{ key: a0 }])
    await refused(t, repoCar(node([{ key: h1, t: right.cid }], left.cid), [left, right]), { error: 'NonCanonicalMst' })
  })

  it(`4.2.5 a wide node (${MST_NODE_ENTRIES_MAX + 1} entries) → MstNodeTooLarge; deep trees are capped (unit: MstTooDeep)`, T, async () => {
    const wide = node(keysOfHeight(0, MST_NODE_ENTRIES_MAX + 1).map((key) => ({ key })))
    await refused(t, repoCar(wide), { error: 'MstNodeTooLarge' })
    // A chain of nodes deeper than the keys justify (each level one l pointer) is refused, not recursed blindly.
    let chain = node([{ key: a0 }])
    const links: Node[] = [chain]
    for (let i = 0; i < 40; i++) {
      chain = node([{ key: h1b }], chain.cid)
      links.push(chain)
    }
    const root = links.pop()!
    await refused(t, repoCar(root, links), { error: 'NonCanonicalMst' })
  })

  it('4.2.6 bad MST keys: no slash, empty collection or rkey, over 1024 bytes, invalid UTF-8, rkey . .. ../x', T, async () => {
    // The node decoder refuses bytes outside the key alphabet and malformed paths (InvalidMstNode); the
    // rkeys . and .. are valid MST bytes that the repo check refuses as record keys (InvalidMstKey).
    const bad: Array<[string | Uint8Array, string]> = [
      ['app.bsky.feed.post', 'InvalidMstNode'],
      ['/3kaaaaaaaaaaa', 'InvalidMstNode'],
      ['app.bsky.feed.post/', 'InvalidMstNode'],
      [`app.bsky.feed.post/${'a'.repeat(1020)}`, 'InvalidMstNode'],
      [new Uint8Array([...utf8('app.bsky.feed.post/'), 0xc3, 0x28]), 'InvalidMstNode'],
      ['app.bsky.feed.post/.', 'InvalidMstKey'],
      ['app.bsky.feed.post/..', 'InvalidMstKey'],
      ['app.bsky.feed.post/../x', 'InvalidMstNode'],
    ]
    for (const [key, error] of bad) {
      await refused(t, repoCar(node([{ key }])), { error })
    }
  })
})
