// checkCertificate on real openssl-made certificates: a good chain passes; a key of another
// certificate, a missing intermediate, a chain out of order, a name not covered, an expired
// certificate and an untrusted root are each refused with the fix.
import fs from 'node:fs'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { checkCertificate, readCertInfo } from '../../lib/certs.ts'
import { makePki, type TestPki } from '../helpers/certs.ts'

let pki: TestPki
const names = ['a.example.com', 'b.example.com']

test.before(async () => {
  pki = await makePki(names)
})
test.after(() => fs.rmSync(pki.dir, { recursive: true, force: true }))

const check = (cert: string, key: string, extra: Partial<Parameters<typeof checkCertificate>[2]> = {}) =>
  checkCertificate(cert, key, { domains: names, requireTrust: true, extraRootsPem: pki.rootPem, ...extra })

test('a complete chain, matching key, both names, trusted root: no problems; info has names, issuer, days left', () => {
  const r = check(pki.leafPem + pki.intermediatePem, pki.leafKey)
  assert.equal(r.problems, [])
  assert.equal(r.info!.names, names)
  assert.match(r.info!.issuer, /DMS Test Intermediate/)
  assert.ok(r.info!.daysLeft >= 88 && r.info!.daysLeft <= 90, String(r.info!.daysLeft))
  assert.not.ok(r.info!.selfSigned)
})

test('a key that belongs to another certificate is refused', () => {
  const r = check(pki.leafPem + pki.intermediatePem, pki.otherKey)
  assert.equal(r.problems.length, 1)
  assert.match(r.problems[0]!, /the key does not match the certificate/)
})

test('the intermediate missing: the chain is incomplete; out of order: named', () => {
  assert.match(
    check(pki.leafPem, pki.leafKey).problems.join('\n'),
    /the chain is incomplete: the issuer of CN=a\.example\.com \(CN=DMS Test Intermediate\) is neither in the file nor a trusted root/,
  )
  assert.match(
    check(pki.intermediatePem + pki.leafPem, pki.leafKey).problems.join('\n'),
    /certificate 1 in the file \(CN=DMS Test Intermediate\) is not issued by certificate 2/,
  )
})

test('the root not trusted: refused; with requireTrust off (self-signed mode) accepted', () => {
  assert.match(
    check(pki.leafPem + pki.intermediatePem, pki.leafKey, { extraRootsPem: '' }).problems.join('\n'),
    /the chain is incomplete/,
  )
  assert.equal(check(pki.leafPem, pki.leafKey, { extraRootsPem: '', requireTrust: false }).problems, [])
})

test('a name not covered, an expired certificate and an unreadable key are refused', () => {
  assert.match(
    check(pki.leafPem + pki.intermediatePem, pki.leafKey, {
      domains: ['a.example.com', 'c.example.com'],
    }).problems.join('\n'),
    /does not cover c\.example\.com \(it names a\.example\.com, b\.example\.com\)/,
  )
  const later = new Date(Date.now() + 100 * 86_400_000)
  assert.match(
    check(pki.leafPem + pki.intermediatePem, pki.leafKey, { now: later }).problems.join('\n'),
    /the certificate expired on /,
  )
  assert.match(
    check(pki.leafPem + pki.intermediatePem, 'not a key').problems.join('\n'),
    /the key file is not a readable private key/,
  )
  assert.match(check('nothing here', pki.leafKey).problems.join('\n'), /holds no PEM certificate/)
})

test('readCertInfo reads the leaf of a file', () => {
  const f = `${pki.dir}/chain.pem`
  fs.writeFileSync(f, pki.leafPem + pki.intermediatePem)
  assert.equal(readCertInfo(f).names, names)
})

test.run()
