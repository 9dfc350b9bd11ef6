// The second example app (examples/pyshop: Python's standard library, two services, web with two replicas,
// no database, no special headers) run from its manifest alone: the generated slot compose files on real
// Docker, the stack's real nginx image and configuration with the generated upstreams and locations, the
// toolkit's marker writers for switching. Under continuous keep-alive load it creates green, shifts
// gradually, switches, rolls back: 0 failed requests, and X-Deploy-Slot (added by nginx) shows each step;
// the manifest's smoke checks run against the candidate through the preview listener.
// Prefix dmst-app2, subnet 172.29.46, ports 31xxx.
import https from 'node:https'
import zlib from 'node:zlib'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runChecks } from '../../lib/manifest/smoke-checks.ts'
import { setGradual, setLive, setReleaseMarker } from '../../lib/nginx.ts'
import { cacheDir } from '../../lib/manifest/render-nginx.ts'
import { $ } from 'zx'
import { previewUrl, publicUrl, waitFor } from './harness.ts'
import { PYSHOP_VERSIONS, pyshopStack } from './pyshop-stack.ts'
import { keepAliveLoad } from './keepalive-load.ts'

const [V1, V2] = PYSHOP_VERSIONS
const shop = pyshopStack('dmst-app2', '172.29.46', 31)
const { stack, manifest, live, upSlot, get } = shop

/** The load: keep-alive clients through the public listener, every answer counted (keepalive-load.ts). */
const startLoad = (workers = 6) => keepAliveLoad((p) => publicUrl(stack, p), workers)

/** polls the public listener until `n` answers in a row come from `slot` with `version` */
async function waitServed(slot: string, version: string, n = 20): Promise<void> {
  await waitFor(`the public listener to serve ${slot} ${version}`, async () => {
    for (let i = 0; i < n; i++) {
      const a = await get(publicUrl(stack, i % 2 ? '/api/items' : '/'))
      if (a.slot !== slot || a.body.version !== version) return undefined
    }
    return true
  })
}

test.before(async () => {
  await shop.setUp()
})

test.after(async () => {
  await shop.tearDown()
})

test('pyshop from its manifest: create, gradual, switch, rollback under keep-alive load, 0 failed', async () => {
  await upSlot('blue', V1)
  await shop.startNginx()
  await waitServed('blue', V1)
  const replicas = new Set<string>()
  for (let i = 0; i < 20; i++) replicas.add(String((await get(publicUrl(stack, '/'))).body.replica))
  assert.equal([...replicas].sort(), ['1', '2'], 'both web replicas serve behind one upstream')

  const load = startLoad()
  await upSlot('green', V2)
  const preview = await get(previewUrl(stack, '/api/items'), { 'X-DMS-Slot': 'green' })
  assert.equal([preview.status, preview.slot, preview.body.service, preview.body.version], [200, 'green', 'api', V2])
  // the manifest's smoke checks, as data, through the preview listener: nginx's header names the slot
  const candidate = { baseUrl: previewUrl(stack, ''), headers: { 'X-DMS-Slot': 'green' }, slot: 'green' }
  const smoke = await runChecks(manifest.smoke.checks, candidate)
  assert.equal(
    smoke.map((r) => [r.name, r.ok, r.detail]),
    manifest.smoke.checks.map((c) => [c.name, true, '200']),
  )
  const wrong = await runChecks(manifest.smoke.checks, { ...candidate, slot: 'blue' })
  assert.ok(
    wrong.every((r) => !r.ok && r.detail === 'answered by slot green, expected blue'),
    'a check fails when the answer comes from another slot',
  )

  setGradual(live, 'green', 50)
  // the split is sticky per client (GRADUAL_STICKY=cookie, by address without a cookie): clients from
  // 40 loopback addresses
  await waitFor('both slots to serve during the 50% shift', async () => {
    const seen = new Set<string>()
    for (let i = 0; i < 40; i++) seen.add((await get(publicUrl(stack, '/'), {}, `127.0.1.${i + 10}`)).slot)
    return seen.has('blue') && seen.has('green') ? true : undefined
  })
  setLive(live, 'green')
  await waitServed('green', V2)
  setLive(live, 'blue')
  await waitServed('blue', V1)
  await load.stop()

  const c = load.counts
  console.log(`  load: ${c.ok} ok, ${c.failed} failed, by slot ${JSON.stringify(c.bySlot)}`)
  assert.is(c.failed, 0, c.errors.slice(0, 5).join('; '))
  assert.ok(c.bySlot.blue! > 0 && c.bySlot.green! > 0, 'the load saw both slots')
})

/** one GET with the raw body bytes (harness.request decodes text) */
function getRaw(p: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    const req = https.get(publicUrl(stack, p), { headers, rejectUnauthorized: false, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
  })
}

test('caching: /static/ (cache: 10m) MISS then HIT per release; a switch and a new release in a slot start with a MISS of the new body; gzip', async () => {
  const asset = '/static/app.css'
  const cached = async () => {
    const a = await get(publicUrl(stack, asset))
    return { status: a.status, cache: a.headers['x-cache-status'], slot: a.slot, first: a.text.split('\n')[0] }
  }
  const answers: Array<{ status: number }> = []
  const expect = async (want: { cache: string; slot: string; version: string }) => {
    const a = await cached()
    answers.push(a)
    assert.equal(a, {
      status: 200,
      cache: want.cache,
      slot: want.slot,
      first: `/* pyshop ${want.version} ${want.slot} ${asset} */`,
    })
  }
  setReleaseMarker(live, 'blue', V1)
  setReleaseMarker(live, 'green', V2)
  await expect({ cache: 'MISS', slot: 'blue', version: V1 })
  await expect({ cache: 'HIT', slot: 'blue', version: V1 })
  const plain = await get(publicUrl(stack, '/'))
  assert.is(plain.headers['x-cache-status'], undefined, 'an uncached route carries no X-Cache-Status')

  // gzip (nginx/nginx.conf): a large enough text answer is compressed when asked, and only then
  const zipped = await getRaw(asset, { 'Accept-Encoding': 'gzip' })
  const unzipped = await getRaw(asset, {})
  assert.is(zipped.headers['content-encoding'], 'gzip')
  assert.is(unzipped.headers['content-encoding'], undefined)
  assert.ok(unzipped.body.length > 1024, `the asset is above gzip_min_length: ${unzipped.body.length} bytes`)
  assert.ok(zipped.body.length < unzipped.body.length, `${zipped.body.length} < ${unzipped.body.length}`)
  assert.equal(zlib.gunzipSync(zipped.body), unzipped.body)

  // a switch: the other slot's release, never the cached body of the old one
  setLive(live, 'green')
  await expect({ cache: 'MISS', slot: 'green', version: V2 })
  await expect({ cache: 'HIT', slot: 'green', version: V2 })
  // a new release in blue (its old answers still fresh in the cache): the marker names it, the first answer is a MISS
  await upSlot('blue', V2)
  setReleaseMarker(live, 'blue', V2)
  setLive(live, 'blue')
  await expect({ cache: 'MISS', slot: 'blue', version: V2 })
  await expect({ cache: 'HIT', slot: 'blue', version: V2 })
  // purge: empty the cache directory in the nginx container
  const purge = await $({
    quiet: true,
    nothrow: true,
  })`docker exec ${shop.nginx} find ${cacheDir(manifest)} -type f -delete`
  assert.is(purge.exitCode, 0, purge.stderr)
  await expect({ cache: 'MISS', slot: 'blue', version: V2 })
  assert.is(answers.filter((a) => a.status !== 200).length, 0)
})

test.run()
