import { test } from 'node:test'
import assert from 'node:assert/strict'
import { classifyAddress, isPublicAddress } from '../../did-resolver/ip-ranges.ts'
import type { AddressClass } from '../../did-resolver/ip-ranges.ts'
import { makeRng } from '../helpers/prng.ts'

const VECTORS: ReadonlyArray<readonly [string, AddressClass]> = [
  // IPv4: every special range, with its edges and the first address past it
  ['0.0.0.0', 'unspecified'],
  ['0.255.255.255', 'unspecified'],
  ['1.0.0.0', 'public'],
  ['8.8.8.8', 'public'],
  ['9.255.255.255', 'public'],
  ['10.0.0.0', 'private'],
  ['10.255.255.255', 'private'],
  ['11.0.0.0', 'public'],
  ['100.63.255.255', 'public'],
  ['100.64.0.0', 'cgnat'],
  ['100.127.255.255', 'cgnat'],
  ['100.128.0.0', 'public'],
  ['126.255.255.255', 'public'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['128.0.0.0', 'public'],
  ['169.253.255.255', 'public'],
  ['169.254.0.0', 'link-local'],
  ['169.254.169.254', 'link-local'],
  ['169.255.0.0', 'public'],
  ['172.15.255.255', 'public'],
  ['172.16.0.0', 'private'],
  ['172.31.255.255', 'private'],
  ['172.32.0.0', 'public'],
  ['192.0.0.8', 'reserved'],
  ['192.0.2.1', 'documentation'],
  ['192.0.3.0', 'public'],
  ['192.88.99.1', 'reserved'],
  ['192.167.255.255', 'public'],
  ['192.168.0.0', 'private'],
  ['192.168.255.255', 'private'],
  ['192.169.0.0', 'public'],
  ['198.17.255.255', 'public'],
  ['198.18.0.0', 'reserved'],
  ['198.19.255.255', 'reserved'],
  ['198.20.0.0', 'public'],
  ['198.51.100.7', 'documentation'],
  ['203.0.113.9', 'documentation'],
  ['223.255.255.255', 'public'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.255', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'reserved'],
  // IPv6
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['[::1]', 'loopback'],
  ['::2', 'reserved'],
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::FFFF:10.1.2.3', 'private'],
  ['::ffff:169.254.169.254', 'link-local'],
  ['::ffff:8.8.8.8', 'public'],
  ['::ffff:0.0.0.0', 'unspecified'],
  ['::127.0.0.1', 'reserved'],
  ['64:ff9b::7f00:1', 'loopback'],
  ['64:ff9b::8.8.8.8', 'public'],
  ['64:ff9b:1::1', 'reserved'],
  ['100::1', 'reserved'],
  ['2001::1', 'reserved'],
  ['2001:1ff:ffff::1', 'reserved'],
  ['2001:200::1', 'public'],
  ['2001:db8::1', 'documentation'],
  ['2002:7f00:1::1', 'loopback'],
  ['2002:a00:1::', 'private'],
  ['2002:808:808::1', 'public'],
  ['2606:4700:4700::1111', 'public'],
  ['2a00:1450:4001::200e', 'public'],
  ['3fff::1', 'documentation'],
  ['4000::1', 'reserved'],
  ['1234::1', 'reserved'],
  ['fc00::1', 'unique-local'],
  ['fdff:ffff::1', 'unique-local'],
  ['fe80::1', 'link-local'],
  ['febf::1', 'link-local'],
  ['fec0::1', 'private'],
  ['ff02::1', 'multicast'],
  ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'multicast'],
  // Not addresses
  ['', 'invalid'],
  ['localhost', 'invalid'],
  ['1.2.3', 'invalid'],
  ['256.1.1.1', 'invalid'],
  ['01.2.3.4', 'invalid'],
  ['fe80::1%eth0', 'invalid'],
  ['::ffff:1.2.3.4.5', 'invalid'],
  ['1::2::3', 'invalid'],
]

test('classifyAddress: vectors for every special range and its edges', () => {
  for (const [ip, expected] of VECTORS) {
    assert.equal(classifyAddress(ip), expected, ip)
    assert.equal(isPublicAddress(ip), expected === 'public', ip)
  }
})

function randomV4(rng: ReturnType<typeof makeRng>): string {
  return Array.from(rng.bytes(4)).join('.')
}

test('property: IPv4-mapped, NAT64 and 6to4 forms classify as their IPv4 address', () => {
  const rng = makeRng(0xd15ea5e)
  for (let i = 0; i < 2_000; i++) {
    const ip = randomV4(rng)
    const cls = classifyAddress(ip)
    const [a, b, c, d] = ip.split('.').map(Number) as [number, number, number, number]
    const hex = (((a << 8) | b).toString(16)) + ':' + (((c << 8) | d).toString(16))
    assert.equal(classifyAddress(`::ffff:${ip}`), cls, `mapped ${ip}`)
    assert.equal(classifyAddress(`::ffff:${hex}`), cls, `mapped hex ${ip}`)
    assert.equal(classifyAddress(`64:ff9b::${ip}`), cls, `nat64 ${ip}`)
    assert.equal(classifyAddress(`2002:${hex}::1`), cls, `6to4 ${ip}`)
  }
})

test('property: every textual form of an IPv6 address gets the same class', () => {
  const rng = makeRng(42)
  const prefixes = [0x2001, 0x2606, 0xfc00, 0xfd12, 0xfe80, 0xff02, 0x0000, 0x2002, 0x0064]
  for (let i = 0; i < 2_000; i++) {
    const groups = Array.from({ length: 8 }, () => rng.int(0x10000))
    groups[0] = rng.pick(prefixes)
    // Zero a random run so the compressed form uses `::`.
    const start = rng.int(8)
    const len = rng.int(8 - start)
    for (let j = start; j < start + len; j++) groups[j] = 0
    const expanded = groups.map((g) => g.toString(16).padStart(4, '0')).join(':')
    const canonical = new URL(`http://[${expanded}]/`).hostname // WHATWG compresses it
    assert.equal(classifyAddress(canonical), classifyAddress(expanded), `${expanded} vs ${canonical}`)
    assert.equal(classifyAddress(expanded.toUpperCase()), classifyAddress(expanded))
  }
})

test('property: public IPv4 addresses are exactly those outside the special table', () => {
  const rng = makeRng(7)
  let publicSeen = 0
  for (let i = 0; i < 5_000; i++) {
    const ip = randomV4(rng)
    const first = Number(ip.split('.')[0])
    const cls = classifyAddress(ip)
    if (first === 0) assert.equal(cls, 'unspecified', ip)
    else if (first === 10) assert.equal(cls, 'private', ip)
    else if (first === 127) assert.equal(cls, 'loopback', ip)
    else if (first >= 224 && first <= 239) assert.equal(cls, 'multicast', ip)
    else if (first >= 240) assert.equal(cls, 'reserved', ip)
    if (cls === 'public') publicSeen++
  }
  assert.ok(publicSeen > 3_500, 'most random IPv4 addresses are public')
})
