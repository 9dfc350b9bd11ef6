// Domains, certificate mode, ACME and HSTS keys: parsed into config.tls, bad values and bad
// combinations refused with exit 2 and a message naming the key and the fix.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../lib/config.ts'
import { UsageError } from '../../lib/errors.ts'
import { tempEnvDir } from '../helpers/run.ts'

const strong = { POSTGRES_PASSWORD: 'Qm9vdGggc3Ryb25nIHNlY3JldA', REDIS_PASSWORD: 'aW5kZWVkIGEgc3Ryb25nIG9uZQ' }
const load = (extra: Record<string, string>) =>
  loadConfig({ target: 'production', env: { DMS_ENV_DIR: tempEnvDir(), ...strong, ...extra } })

function refused(extra: Record<string, string>, ...patterns: RegExp[]): void {
  try {
    load(extra)
  } catch (e) {
    assert.instance(e, UsageError)
    assert.is((e as UsageError).exitCode, 2)
    for (const p of patterns) assert.match((e as Error).message, p)
    return
  }
  assert.unreachable(`expected ${JSON.stringify(extra)} to be refused`)
}

test("defaults: self-signed, no domains, HSTS two years with includeSubDomains, Let's Encrypt, renew at 30 days", () => {
  const c = load({})
  assert.equal(c.tls.mode, 'self-signed')
  assert.equal(c.tls.domains, [])
  assert.equal(c.tls.hsts, { maxAge: 63072000, includeSubdomains: true, preload: false })
  assert.is(c.tls.acme.server, 'https://acme-v02.api.letsencrypt.org/directory')
  assert.is(c.tls.acme.renewDays, 30)
})

test('acme with two domains (spaces and case normalised), e-mail, CA file and HSTS preload', () => {
  const c = load({
    DOMAINS: 'A.example.com, www.example.com',
    TLS_MODE: 'acme',
    ACME_EMAIL: 'ops@example.com',
    ACME_SERVER: 'https://127.0.0.1:14000/dir',
    ACME_CA_FILE: '/tmp/ca.pem',
    HSTS_PRELOAD: 'true',
    ACME_RENEW_DAYS: '20',
  })
  assert.equal(c.tls.domains, ['a.example.com', 'www.example.com'])
  assert.is(c.tls.mode, 'acme')
  assert.equal(c.tls.acme, {
    server: 'https://127.0.0.1:14000/dir',
    email: 'ops@example.com',
    serverCaFile: '/tmp/ca.pem',
    renewDays: 20,
  })
  assert.ok(c.tls.hsts.preload)
})

test('bad values: each named with the fix', () => {
  refused(
    { DOMAINS: 'example.com,bad_name!,-x.com' },
    /DOMAINS=.*"bad_name!", "-x\.com" are not host names; write comma-separated names/,
  )
  refused({ TLS_MODE: 'letsencrypt' }, /TLS_MODE="letsencrypt" is not valid: write one of self-signed, provided, acme/)
  refused({ ACME_EMAIL: 'not-an-address' }, /ACME_EMAIL="not-an-address" is not valid: write an e-mail address/)
  refused({ HSTS_PRELOAD: 'maybe' }, /HSTS_PRELOAD="maybe" is not valid: write true or false/)
  refused({ ACME_RENEW_DAYS: 'soon' }, /ACME_RENEW_DAYS="soon" is not valid: write a whole number/)
})

test('combinations: a mode without what it needs is refused', () => {
  refused({ TLS_MODE: 'acme', ACME_EMAIL: 'ops@example.com' }, /TLS_MODE=acme needs the names to serve: set DOMAINS=/)
  refused({ TLS_MODE: 'acme', DOMAINS: 'example.com' }, /TLS_MODE=acme needs ACME_EMAIL/)
  refused(
    { TLS_MODE: 'acme', DOMAINS: '*.example.com', ACME_EMAIL: 'ops@example.com' },
    /\*\.example\.com: a wildcard needs the DNS-01 challenge/,
  )
  refused(
    { TLS_MODE: 'acme', DOMAINS: 'example.com', ACME_EMAIL: 'ops@example.com', ACME_SERVER: 'http://127.0.0.1/dir' },
    /ACME_SERVER must be an https:\/\/ directory URL/,
  )
  refused(
    { TLS_MODE: 'provided', DOMAINS: 'example.com' },
    /TLS_MODE=provided needs TLS_CERT_FILE/,
    /TLS_MODE=provided needs TLS_KEY_FILE/,
  )
  refused(
    { HSTS_PRELOAD: 'true', HSTS_INCLUDE_SUBDOMAINS: 'false' },
    /HSTS_PRELOAD=true needs HSTS_INCLUDE_SUBDOMAINS=true and HSTS_MAX_AGE of at least 31536000/,
  )
  refused({ HSTS_PRELOAD: 'true', HSTS_MAX_AGE: '86400' }, /HSTS_PRELOAD=true needs/)
})

test.run()
