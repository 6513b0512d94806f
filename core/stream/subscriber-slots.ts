/**
 * Admission for a stream endpoint: at most `totalMax` open subscriptions, and
 * at most `perAddressMax` from one client address, so one host opening
 * thousands of sockets cannot take every slot (reliability §4.7.10).
 *
 * A slot is taken before the WebSocket handshake and given back when the
 * TCP socket closes — whether the subscription ended or the handshake never
 * completed (`ws` drops a bad handshake without calling back, so counting
 * "upgrades in progress" by callback would leak a slot per bad request).
 *
 * Addresses: IPv4 (and IPv4-mapped IPv6) count per address; other IPv6
 * count per /64, the smallest block a single client is usually given.
 * Loopback is exempt by default: local tools and a reverse proxy on the same
 * machine all arrive from it (behind such a proxy only the total cap holds).
 */
import { isIP } from 'node:net'
import type { Duplex } from 'node:stream'

export type SlotRefusal = { status: 429 | 503; error: 'RateLimitExceeded' | 'TooManySubscribers'; message: string }

export type SubscriberSlotsOptions = {
  totalMax: number
  perAddressMax: number
  /** Count loopback clients per address too (tests); default false. */
  limitLoopback?: boolean
}

export class SubscriberSlots {
  readonly #options: SubscriberSlotsOptions
  readonly #byAddress = new Map<string, number>()
  #open = 0

  constructor(options: SubscriberSlotsOptions) {
    this.#options = options
  }

  /** Slots held now (subscriptions plus handshakes in progress). */
  get open(): number {
    return this.#open
  }

  /** Take a slot for the client on `socket`, given back when the socket closes; or why not. */
  take(socket: Duplex & { remoteAddress?: string | undefined }): SlotRefusal | null {
    if (this.#open >= this.#options.totalMax) {
      return { status: 503, error: 'TooManySubscribers', message: 'too many subscribers, retry later' }
    }
    const key = this.#addressKey(socket.remoteAddress)
    const fromAddress = key === null ? 0 : (this.#byAddress.get(key) ?? 0)
    if (key !== null && fromAddress >= this.#options.perAddressMax) {
      return { status: 429, error: 'RateLimitExceeded', message: `at most ${this.#options.perAddressMax} subscriptions from one address` }
    }
    this.#open++
    if (key !== null) this.#byAddress.set(key, fromAddress + 1)
    socket.once('close', () => this.#release(key))
    return null
  }

  #release(key: string | null): void {
    this.#open--
    if (key === null) return
    const left = (this.#byAddress.get(key) ?? 1) - 1
    if (left === 0) this.#byAddress.delete(key)
    else this.#byAddress.set(key, left)
  }

  /** The counting key of a client address; null when it is not counted per address. */
  #addressKey(address: string | undefined): string | null {
    if (address === undefined) return null
    const mapped = address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address
    const loopback = mapped.startsWith('127.') || mapped === '::1'
    if (loopback && this.#options.limitLoopback !== true) return null
    return isIP(mapped) === 6 ? ipv6Prefix64(mapped) : mapped
  }
}

/** The first four groups of an IPv6 address, expanded (`2001:db8::1` → `2001:db8:0:0`). */
function ipv6Prefix64(address: string): string {
  const [head = '', tail] = address.split('%', 1)[0]!.split('::') as [string, string | undefined]
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ''))
    .join(':')
}
