// Sticky gradual shifts: GRADUAL_STICKY read by the config (default cookie, a bad value named with its
// fix), rendered into the generated split include for each mode, and shown in the switch plan.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../../lib/config.ts'
import { UsageError } from '../../../lib/errors.ts'
import { nginxSettings } from '../../../lib/nginx.ts'
import { BUCKET_COOKIE, renderGradualSplit, renderNginxIncludes } from '../../../lib/nginx-render.ts'
import { planSwitch } from '../../../lib/switch.ts'
import { fakePlatform, storeWith } from '../../helpers/fakes.ts'
import { tempEnvDir } from '../../helpers/run.ts'

const load = (extra: Record<string, string> = {}) =>
  loadConfig({ target: 'production', env: { DMS_ENV_DIR: tempEnvDir(), ...extra }, generateSecrets: false })

/** the bucket names of a split_clients block, in order */
const buckets = (text: string) => [...text.matchAll(/1% (b\d+);/g)].map((m) => m[1])

test('GRADUAL_STICKY: cookie by default, each mode read, a bad value refused naming the modes', () => {
  assert.is(load().gradualSticky, 'cookie')
  for (const mode of ['address', 'request', 'cookie'] as const)
    assert.is(load({ GRADUAL_STICKY: mode }).gradualSticky, mode)
  try {
    load({ GRADUAL_STICKY: 'sticky' })
    assert.unreachable('a bad mode is refused')
  } catch (e) {
    assert.instance(e, UsageError)
    assert.match((e as Error).message, /GRADUAL_STICKY="sticky" is not valid: write one of cookie, address, request/)
  }
})

test('the split include follows the config: one generated file, nginx settings carry the mode', () => {
  const files = renderNginxIncludes(nginxSettings(load({ GRADUAL_STICKY: 'address' })))
  assert.is(files['gradual-split.conf'], renderGradualSplit('address'))
  assert.is(renderNginxIncludes(nginxSettings(load()))['gradual-split.conf'], renderGradualSplit('cookie'))
})

test('cookie mode: the first request is bucketed by address, a valid cookie keeps its bucket, the cookie is set only when missing', () => {
  const text = renderGradualSplit('cookie')
  assert.equal(
    buckets(text),
    Array.from({ length: 100 }, (_, i) => `b${i + 1}`),
  )
  assert.ok(text.includes('split_clients "$remote_addr" $dms_address_bucket {'), text)
  assert.ok(text.includes(`map $cookie_${BUCKET_COOKIE} $bucket {`))
  assert.ok(text.includes('"~^(?<dms_b>b(100|[1-9][0-9]?))$" $dms_b;'), 'a cookie b1..b100 is the bucket')
  assert.ok(text.includes('default $dms_address_bucket;'), 'anything else: the address bucket')
  assert.match(
    text,
    /default "dms_bucket=\$bucket; Path=\/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax";/,
    'the cookie holds the bucket the request was given',
  )
  assert.ok(text.includes('"~^b(100|[1-9][0-9]?)$" "";'), 'no Set-Cookie when a valid cookie came')
  // the bucket pattern accepts exactly b1..b100
  const re = /^b(100|[1-9][0-9]?)$/
  for (const ok of ['b1', 'b9', 'b10', 'b55', 'b99', 'b100']) assert.ok(re.test(ok), ok)
  for (const bad of ['b0', 'b01', 'b101', 'b1000', 'B5', 'b', 'b5;x', ' b5']) assert.not.ok(re.test(bad), bad)
})

test('address and request modes: split on the address or the request id, never a cookie', () => {
  const address = renderGradualSplit('address')
  const request = renderGradualSplit('request')
  assert.ok(address.includes('split_clients "$remote_addr" $bucket {'), address)
  assert.ok(request.includes('split_clients "$request_id" $bucket {'), request)
  for (const text of [address, request]) {
    assert.is(buckets(text).length, 100)
    assert.ok(text.includes(`map $cookie_${BUCKET_COOKIE} $dms_bucket_cookie {\n    default "";\n}`))
    assert.not.match(text, /Set-Cookie|dms_bucket=/)
  }
})

test('a mode that is not one of the three never reaches nginx', () => {
  for (const bad of ['', 'Cookie', 'cookie;', undefined, 1]) {
    try {
      renderGradualSplit(bad as 'cookie')
      assert.unreachable(String(bad))
    } catch (e) {
      assert.match((e as Error).message, /Invalid nginx setting sticky=.*expected cookie, address, request/)
    }
  }
})

test('the switch plan names the split of a gradual shift, and only of a gradual one', async () => {
  const init = {
    live: 'blue' as const,
    blue: { version: 'v1', healthy: true },
    green: { version: 'v2', healthy: true },
  }
  const m = storeWith((s) => (s.live = 'blue'))
  const gradual = await planSwitch(fakePlatform(init).p, m.store, { gradual: [50, 100], sticky: 'cookie' })
  assert.is(
    gradual.steps[0],
    'split clients sticky per client: the dms_bucket cookie, else the client address (GRADUAL_STICKY=cookie)',
  )
  const request = await planSwitch(fakePlatform(init).p, m.store, { gradual: [50, 100], sticky: 'request' })
  assert.is(request.steps[0], 'split clients per request (not sticky) (GRADUAL_STICKY=request)')
  const atOnce = await planSwitch(fakePlatform(init).p, m.store, { sticky: 'cookie' })
  assert.not.ok(
    atOnce.steps.some((s) => s.includes('GRADUAL_STICKY')),
    atOnce.steps.join('\n'),
  )
})

test.run()
