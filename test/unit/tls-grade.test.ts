// The A+ check fails when the grade would drop: each condition on its own.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { aPlusProblems, type Finding } from '../helpers/tls-grade.ts'

const f = (id: string, finding: string, severity = 'OK'): Finding => ({ id, finding, severity })
const good: Finding[] = [
  ...['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1'].map((p) => f(p, 'not offered')),
  f('TLS1_2', 'offered'),
  f('TLS1_3', 'offered with final'),
  ...[
    'cipherlist_NULL',
    'cipherlist_aNULL',
    'cipherlist_EXPORT',
    'cipherlist_LOW',
    'cipherlist_3DES_IDEA',
    'cipherlist_AVERAGE',
  ].map((c) => f(c, 'not offered')),
  f('cipherlist_STRONG', 'offered'),
  f(
    'cipher-tls1_2_xc02b',
    'TLSv1.2   xc02b   ECDHE-ECDSA-AES128-GCM-SHA256     ECDH 253   AESGCM      128      TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  ),
  f(
    'cipher-tls1_3_x1301',
    'TLSv1.3   x1301   TLS_AES_128_GCM_SHA256            ECDH 253   AESGCM      128      TLS_AES_128_GCM_SHA256',
  ),
  f('FS', 'offered'),
  ...[
    'heartbleed',
    'CCS',
    'ticketbleed',
    'ROBOT',
    'secure_renego',
    'secure_client_renego',
    'CRIME_TLS',
    'POODLE_SSL',
    'fallback_SCSV',
    'SWEET32',
    'FREAK',
    'DROWN',
    'LOGJAM',
    'BEAST',
    'LUCKY13',
    'RC4',
  ].map((v) => f(v, 'not vulnerable')),
  f('HSTS_time', '365 days (=31536000 seconds) > 15552000 seconds'),
  f('cert_chain_of_trust', 'passed.'),
  f('cert_expirationStatus', '89 >= 60 days'),
]
const swap = (id: string, x: Finding) => good.map((g) => (g.id === id ? x : g))

test('all conditions met: no problems', () => {
  assert.equal(aPlusProblems(good), [])
})

test('each condition that would drop the grade is reported', () => {
  assert.match(
    aPlusProblems(swap('TLS1', f('TLS1', 'offered (deprecated)', 'LOW'))).join(),
    /TLS1: must not be offered/,
  )
  assert.match(
    aPlusProblems(swap('cipherlist_AVERAGE', f('cipherlist_AVERAGE', 'offered', 'LOW'))).join(),
    /cipherlist_AVERAGE: weak or non-AEAD/,
  )
  assert.match(
    aPlusProblems([...good, f('cipher-tls1_2_xc013', 'TLSv1.2 xc013 ECDHE-RSA-AES128-SHA ECDH 253 AES 128')]).join(),
    /cipher-tls1_2_xc013: not a forward-secret AEAD cipher/,
  )
  assert.match(
    aPlusProblems([...good, f('cipher-tls1_2_x9c', 'TLSv1.2 x9c AES128-GCM-SHA256 RSA AESGCM 128')]).join(),
    /cipher-tls1_2_x9c: not a forward-secret AEAD cipher/,
  )
  assert.match(
    aPlusProblems(swap('ROBOT', f('ROBOT', 'VULNERABLE (NOT ok)', 'HIGH'))).join(),
    /ROBOT: must not be vulnerable/,
  )
  assert.match(
    aPlusProblems(swap('HSTS_time', f('HSTS_time', '86400 seconds = 1 days is too short', 'LOW'))).join(),
    /HSTS_time: HSTS must last at least six months/,
  )
  assert.match(
    aPlusProblems(
      swap('cert_chain_of_trust', f('cert_chain_of_trust', 'failed (chain incomplete).', 'CRITICAL')),
    ).join(),
    /cert_chain_of_trust: the chain must verify/,
  )
  assert.match(aPlusProblems(good.filter((g) => g.id !== 'FS')).join(), /FS: no finding/)
  assert.equal(
    aPlusProblems(good.map((g) => (g.id === 'FS' ? f('PFS', 'offered') : g))),
    [],
    'testssl 3.0 calls it PFS',
  )
  assert.match(
    aPlusProblems(good.map((g) => (g.id === 'FS' ? f('PFS', 'not offered', 'HIGH') : g))).join(),
    /PFS: forward secrecy must be offered/,
  )
  assert.match(aPlusProblems(good.filter((g) => !g.id.startsWith('cipher-'))).join(), /no cipher listed/)
})

test.run()
