import { test } from 'node:test'
import assert from 'node:assert/strict'
import { scryptSync } from 'node:crypto'
import { checkNewPassword, hashPassword, verifyPassword } from '../../pds/accounts/password.ts'
import { PDS_LOGIN_PASSWORD_LENGTH_MAX, PDS_PASSWORD_LENGTH_MAX } from '../../core/limits.ts'

// The reference PDS stores `salt + ':' + scrypt(password, salt, 64).hex` where
// `salt` is the 32-character hex string itself (packages/pds/src/account-manager/helpers/scrypt.ts).
function referenceHash(password: string, saltHex: string): string {
  return `${saltHex}:${scryptSync(password, saltHex, 64).toString('hex')}`
}

test('hashes are in the reference format and cross-verify both ways', async () => {
  const ours = await hashPassword('hunter2')
  const [saltHex] = ours.split(':')
  assert.match(saltHex!, /^[0-9a-f]{32}$/)
  assert.equal(ours, referenceHash('hunter2', saltHex!))
  assert.ok(await verifyPassword('hunter2', referenceHash('hunter2', '0123456789abcdef0123456789abcdef')))
  assert.ok(!(await verifyPassword('hunter3', ours)))
})

test('password length rules at the edge and malformed stored hashes', async () => {
  assert.equal(checkNewPassword('x'.repeat(PDS_PASSWORD_LENGTH_MAX)).length, PDS_PASSWORD_LENGTH_MAX)
  assert.throws(() => checkNewPassword('x'.repeat(PDS_PASSWORD_LENGTH_MAX + 1)), { name: 'InvalidPassword' })
  assert.throws(() => checkNewPassword(''), { name: 'InvalidPassword' })
  const stored = await hashPassword('y'.repeat(PDS_LOGIN_PASSWORD_LENGTH_MAX + 1))
  assert.ok(!(await verifyPassword('y'.repeat(PDS_LOGIN_PASSWORD_LENGTH_MAX + 1), stored)), 'over-long logins are refused unhashed')
  for (const bad of ['', 'nocolon', 'zz:zz', 'ab:cd']) assert.ok(!(await verifyPassword('pw', bad)))
})
