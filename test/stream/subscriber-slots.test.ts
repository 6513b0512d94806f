/**
 * SubscriberSlots' address accounting, on sockets that are only addresses:
 * IPv4-mapped IPv6 counts as the IPv4 address, other IPv6 per /64,
 * loopback exempt unless asked; slots come back when the socket closes.
 * (Over real sockets: test/stream/subscription-server.test.ts.)
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import { SubscriberSlots } from '../../core/stream/subscriber-slots.ts'

type FakeSocket = Duplex & { remoteAddress?: string }
const from = (remoteAddress: string): FakeSocket => Object.assign(new EventEmitter(), { remoteAddress }) as unknown as FakeSocket

test('one /64 shares a count; another /64 and the mapped form of an IPv4 address are counted as such', () => {
  const slots = new SubscriberSlots({ totalMax: 100, perAddressMax: 2 })
  assert.equal(slots.take(from('2001:db8:0:1::1')), null)
  assert.equal(slots.take(from('2001:0db8:0000:0001:ffff::2')), null)
  assert.equal(slots.take(from('2001:db8:0:1:abcd:1:2:3'))?.error, 'RateLimitExceeded')
  assert.equal(slots.take(from('2001:db8:0:2::1')), null)
  assert.equal(slots.take(from('203.0.113.9')), null)
  assert.equal(slots.take(from('::ffff:203.0.113.9')), null)
  assert.equal(slots.take(from('203.0.113.9'))?.status, 429)
  assert.equal(slots.take(from('203.0.113.10')), null)
})

test('a closed socket gives its slot back; the total cap is 503 TooManySubscribers', () => {
  const slots = new SubscriberSlots({ totalMax: 2, perAddressMax: 1 })
  const first = from('198.51.100.1')
  assert.equal(slots.take(first), null)
  assert.equal(slots.take(from('198.51.100.1'))?.error, 'RateLimitExceeded')
  assert.equal(slots.take(from('198.51.100.2')), null)
  assert.deepEqual(slots.take(from('198.51.100.3')), { status: 503, error: 'TooManySubscribers', message: 'too many subscribers, retry later' })
  first.emit('close')
  assert.equal(slots.open, 1)
  assert.equal(slots.take(from('198.51.100.1')), null)
})

test('loopback (127/8, ::1, mapped 127.x) is exempt unless limitLoopback', () => {
  const open = new SubscriberSlots({ totalMax: 10, perAddressMax: 1 })
  for (const address of ['127.0.0.1', '127.0.0.1', '127.3.2.1', '::1', '::1', '::ffff:127.0.0.1']) assert.equal(open.take(from(address)), null)
  const strict = new SubscriberSlots({ totalMax: 10, perAddressMax: 1, limitLoopback: true })
  assert.equal(strict.take(from('::1')), null)
  assert.equal(strict.take(from('::1'))?.status, 429)
})
