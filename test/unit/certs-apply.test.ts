// installCertificate: the previous pair is kept; when nginx -t rejects the new pair the previous
// one is put back and nginx is not reloaded; a pair that fails the checks changes nothing. A fake
// shell plays nginx here; the TLS e2e suite installs and renews on the real nginx.
import { X509Certificate } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runtimePaths } from '../../lib/paths.ts'
import { loadConfig } from '../../lib/config.ts'
import { installCertificate } from '../../lib/certs-apply.ts'
import { OperationError, RefusedError } from '../../lib/errors.ts'
import { makePki, type TestPki } from '../helpers/certs.ts'
import { fakeNginx } from '../helpers/fake-nginx.ts'
import { tempEnvDir } from '../helpers/run.ts'

const names = ['a.example.com', 'b.example.com']
let pki: TestPki
let next: TestPki

function target() {
  const varDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-certs-'))
  fs.writeFileSync(path.join(varDir, 'root.pem'), pki.rootPem + next.rootPem)
  const config = loadConfig({
    target: 'production',
    generateSecrets: true,
    env: {
      DMS_ENV_DIR: tempEnvDir(),
      VAR_DIR: varDir,
      DOMAINS: names.join(','),
      TLS_MODE: 'provided',
      TLS_CERT_FILE: 'x',
      TLS_KEY_FILE: 'y',
      TLS_CA_FILE: path.join(varDir, 'root.pem'),
    },
  })
  const paths = runtimePaths(varDir)
  fs.mkdirSync(paths.certs, { recursive: true })
  fs.writeFileSync(path.join(paths.certs, 'tls.crt'), pki.leafPem + pki.intermediatePem)
  fs.writeFileSync(path.join(paths.certs, 'tls.key'), pki.leafKey, { mode: 0o600 })
  return { config, paths }
}
const read = (dir: string, f: string) => fs.readFileSync(path.join(dir, f), 'utf8')

test.before(async () => {
  pki = await makePki(names)
  next = await makePki(names)
})

test('nginx not running: the new pair is written (key 0600) and the previous one kept', async () => {
  const { config, paths } = target()
  const { sh, calls } = fakeNginx(true)
  const r = await installCertificate(
    sh,
    config,
    paths,
    { cert: next.leafPem + next.intermediatePem, key: next.leafKey },
    { what: 'the test pair', nginxRunning: false },
  )
  assert.is(read(paths.certs, 'tls.crt'), next.leafPem + next.intermediatePem)
  assert.is(fs.statSync(path.join(paths.certs, 'tls.key')).mode & 0o777, 0o600)
  assert.is(read(paths.certs, 'previous/tls.crt'), pki.leafPem + pki.intermediatePem)
  assert.is(fs.statSync(path.join(paths.certs, 'previous/tls.key')).mode & 0o777, 0o600)
  assert.is(r.previous!.fingerprint256, new X509Certificate(pki.leafPem).fingerprint256)
  assert.is(r.info.fingerprint256, new X509Certificate(next.leafPem).fingerprint256)
  assert.not.ok(r.reloaded)
  assert.equal(calls, [])
})

test('nginx -t rejects it: the previous pair is back and nginx is not reloaded', async () => {
  const { config, paths } = target()
  const { sh, calls } = fakeNginx(
    false,
    'nginx: [emerg] SSL_CTX_use_PrivateKey failed\nnginx: configuration file /etc/nginx/nginx.conf test failed',
  )
  try {
    await installCertificate(
      sh,
      config,
      paths,
      { cert: next.leafPem + next.intermediatePem, key: next.leafKey },
      { what: 'the test pair', nginxRunning: true },
    )
    assert.unreachable('nginx -t failed')
  } catch (e) {
    assert.instance(e, OperationError)
    assert.match(
      (e as Error).message,
      /Can't install the test pair: nginx -t rejected it .*The previous certificate was restored; nginx was not reloaded\./,
    )
  }
  assert.is(read(paths.certs, 'tls.crt'), pki.leafPem + pki.intermediatePem)
  assert.is(read(paths.certs, 'tls.key'), pki.leafKey)
  assert.equal(calls, ['nginx -t -q'])
})

test('a key that does not match: refused (exit 2) before any file or nginx is touched', async () => {
  const { config, paths } = target()
  const { sh, calls } = fakeNginx(true)
  try {
    await installCertificate(
      sh,
      config,
      paths,
      { cert: next.leafPem + next.intermediatePem, key: next.otherKey },
      { what: 'the test pair', nginxRunning: true },
    )
    assert.unreachable('refused')
  } catch (e) {
    assert.instance(e, RefusedError)
    assert.match((e as Error).message, /the key does not match the certificate.*Nothing was changed/)
  }
  assert.is(read(paths.certs, 'tls.crt'), pki.leafPem + pki.intermediatePem)
  assert.not.ok(fs.existsSync(path.join(paths.certs, 'previous')))
  assert.equal(calls, [])
})

test.run()
