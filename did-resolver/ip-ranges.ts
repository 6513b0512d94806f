/**
 * Classification of IP addresses for SSRF protection: may an identity fetch
 * (did:web, handle well-known) connect to this address?
 *
 * `classifyAddress(ip)` names the special-purpose range an address falls in,
 * or 'public'. Only 'public' addresses may be dialled without the dev flag.
 *
 * How it works: an IPv4 address becomes a 32-bit number and is matched against
 * the IANA special-purpose table; an IPv6 address becomes a bigint and is
 * matched against the IPv6 table. IPv6 forms that carry an IPv4 address
 * (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64
 * `64:ff9b::/96`, 6to4 `2002::/16`) are classified by the embedded IPv4
 * address, so `::ffff:127.0.0.1` is loopback.
 *
 * Tricky bits:
 * - Allow-list for IPv6: only global unicast (2000::/3) can be public; the
 *   rest of the space is reserved, whatever future assignments say.
 * - Teredo (2001::/32) and the other 2001::/23 protocol assignments are
 *   'reserved': Teredo hides an obfuscated IPv4 address we do not decode.
 * - A zone index (`fe80::1%eth0`) only appears on scoped addresses: refused.
 * - Anything that does not parse is 'invalid' (refused).
 */
import { isIPv4, isIPv6 } from 'node:net'

export type AddressClass =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'cgnat'
  | 'link-local'
  | 'unique-local'
  | 'multicast'
  | 'documentation'
  | 'reserved'
  | 'invalid'

type Range4 = readonly [base: number, prefixBits: number, cls: AddressClass]
type Range6 = readonly [base: bigint, prefixBits: number, cls: AddressClass]

function v4(dotted: string): number {
  const parts = dotted.split('.').map(Number)
  return (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0
}

// IANA IPv4 Special-Purpose Address Registry (RFC 6890 and updates).
const RANGES_V4: readonly Range4[] = [
  [v4('0.0.0.0'), 8, 'unspecified'], // "this network"
  [v4('10.0.0.0'), 8, 'private'],
  [v4('100.64.0.0'), 10, 'cgnat'],
  [v4('127.0.0.0'), 8, 'loopback'],
  [v4('169.254.0.0'), 16, 'link-local'], // includes cloud metadata 169.254.169.254
  [v4('172.16.0.0'), 12, 'private'],
  [v4('192.0.0.0'), 24, 'reserved'], // IETF protocol assignments
  [v4('192.0.2.0'), 24, 'documentation'],
  [v4('192.88.99.0'), 24, 'reserved'], // deprecated 6to4 relay anycast
  [v4('192.168.0.0'), 16, 'private'],
  [v4('198.18.0.0'), 15, 'reserved'], // benchmarking
  [v4('198.51.100.0'), 24, 'documentation'],
  [v4('203.0.113.0'), 24, 'documentation'],
  [v4('224.0.0.0'), 4, 'multicast'],
  [v4('240.0.0.0'), 4, 'reserved'], // future use, and 255.255.255.255 broadcast
]

// Checked in order: the first match wins, so narrow ranges come first.
const RANGES_V6: readonly Range6[] = [
  [0n, 128, 'unspecified'], // ::
  [1n, 128, 'loopback'], // ::1
  [0x0100n << 112n, 64, 'reserved'], // 100::/64 discard-only
  [0x0064ff9b0001n << 80n, 48, 'reserved'], // 64:ff9b:1::/48 local-use NAT64
  [0x20010db8n << 96n, 32, 'documentation'], // 2001:db8::/32
  [0x2001n << 112n, 23, 'reserved'], // IETF protocol assignments, Teredo, ORCHID
  [0x3fffn << 112n, 20, 'documentation'], // 3fff::/20 (RFC 9637)
  [0xfc00n << 112n, 7, 'unique-local'],
  [0xfe80n << 112n, 10, 'link-local'],
  [0xfec0n << 112n, 10, 'private'], // deprecated site-local
  [0xff00n << 112n, 8, 'multicast'],
]

const GLOBAL_UNICAST_V6: Range6 = [0x2000n << 112n, 3, 'public']
const MAPPED_V4_PREFIX = 0xffffn << 32n // ::ffff:0:0/96
const NAT64_PREFIX = 0x0064ff9bn << 96n // 64:ff9b::/96
const SIX_TO_FOUR_PREFIX = 0x2002n // 2002::/16, IPv4 in bits 16..48

function inRange4(ip: number, [base, bits]: Range4): boolean {
  if (bits === 0) return true
  const mask = bits === 32 ? 0xffffffff : (~((1 << (32 - bits)) - 1)) >>> 0
  return ((ip & mask) >>> 0) === base
}

function inRange6(ip: bigint, [base, bits]: Range6): boolean {
  const shift = BigInt(128 - bits)
  return ip >> shift === base >> shift
}

function classifyV4(ip: number): AddressClass {
  for (const range of RANGES_V4) if (inRange4(ip, range)) return range[2]
  return 'public'
}

/** Parse a (zone-free, already validated) IPv6 text form into a bigint. */
function parseV6(text: string): bigint {
  let s = text
  const lastColon = s.lastIndexOf(':')
  if (s.includes('.', lastColon)) {
    // A dotted IPv4 tail stands for the last two 16-bit groups.
    const n = v4(s.slice(lastColon + 1))
    s = `${s.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`
  }
  const [head = '', rest] = s.split('::') as [string?, string?]
  const headGroups = head === '' ? [] : head.split(':')
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':')
  const zeros = 8 - headGroups.length - restGroups.length
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...restGroups]
  let value = 0n
  for (const g of groups) value = (value << 16n) | BigInt(parseInt(g, 16))
  return value
}

function classifyV6(ip: bigint): AddressClass {
  if (ip >> 32n === MAPPED_V4_PREFIX >> 32n) return classifyV4(Number(ip & 0xffffffffn))
  if (ip >> 32n === NAT64_PREFIX >> 32n) return classifyV4(Number(ip & 0xffffffffn))
  if (ip >> 112n === SIX_TO_FOUR_PREFIX) return classifyV4(Number((ip >> 80n) & 0xffffffffn))
  for (const range of RANGES_V6) if (inRange6(ip, range)) return range[2]
  // IPv4-compatible ::a.b.c.d (deprecated): never dialled, whatever the tail.
  if (ip >> 32n === 0n) return 'reserved'
  return inRange6(ip, GLOBAL_UNICAST_V6) ? 'public' : 'reserved'
}

/** The special-purpose range `ip` falls in, or 'public'. Accepts `[v6]` brackets. */
export function classifyAddress(ip: string): AddressClass {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip
  if (isIPv4(bare)) return classifyV4(v4(bare))
  if (bare.includes('%') || !isIPv6(bare)) return 'invalid'
  return classifyV6(parseV6(bare))
}

/** True only for globally routable unicast addresses. */
export function isPublicAddress(ip: string): boolean {
  return classifyAddress(ip) === 'public'
}
