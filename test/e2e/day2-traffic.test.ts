// Sticky gradual shifts on real nginx (the stack's image and configuration, the pyshop example from its
// manifest in both slots, the toolkit's marker writer for the 50% step): with GRADUAL_STICKY=cookie every
// client keeps one slot through the step, from its first request on and even when its address changes,
// and cookie-less clients stay by address, while across clients both slots appear; in request mode one
// client sees both slots; in address mode the address alone decides. Every answer is counted: 0 failed.
// test-lane: day2 (shares dmst-day2's prefix, subnet 172.29.48 and ports 33xxx with day2.test.ts)
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { setGradual, setLive } from '../../lib/nginx.ts'
import { BUCKET_COOKIE } from '../../lib/nginx-render.ts'
import { publicUrl, waitFor } from './harness.ts'
import { PYSHOP_VERSIONS, pyshopStack, type PyshopAnswer } from './pyshop-stack.ts'

const [V1, V2] = PYSHOP_VERSIONS
const shop = pyshopStack('dmst-day2', '172.29.48', 33)
const url = (p = '/') => publicUrl(shop.stack, p)
/** clients by source address: 127.0.0.0/8 is all loopback, so each is its own client to nginx */
const addr = (i: number) => `127.0.${Math.floor(i / 200) + 1}.${(i % 200) + 10}`
const answers: PyshopAnswer[] = []
/** the slot each client address got at the 50% step in cookie mode (its first request: by address) */
const byAddress = new Map<string, string>()

async function get(headers: Record<string, string>, from: string): Promise<PyshopAnswer> {
  const a = await shop.get(url(answers.length % 2 ? '/api/items' : '/'), headers, from)
  answers.push(a)
  return a
}

/** the bucket a Set-Cookie header gives, or undefined */
function bucketCookie(a: PyshopAnswer): string | undefined {
  const set = ([] as string[]).concat(a.headers['set-cookie'] ?? [])
  return set.map((c) => new RegExp(`^${BUCKET_COOKIE}=(b\\d+);`).exec(c)?.[1]).find(Boolean)
}

test.before(async () => {
  try {
    await shop.setUp()
    await shop.upSlot('blue', V1)
    await shop.upSlot('green', V2)
    await shop.startNginx()
    await waitFor('nginx to serve blue', async () => ((await shop.get(url('/'))).slot === 'blue' ? true : undefined))
  } catch (e) {
    console.error(e) // uvu 0.5 reports a throwing before hook only as "0 / N"
    throw e
  }
})

test.after(async () => {
  await shop.tearDown()
})

test('cookie mode: each client keeps one slot through a 50% step (first request on, any address); cookie-less clients by address; both slots across clients', async () => {
  setGradual(shop.live, 'green', 50)
  const clients = 12
  const perClient = 16
  const seen: string[][] = []
  const buckets: string[] = []
  for (let c = 0; c < clients; c++) {
    const first = await get({}, addr(c))
    assert.is(first.status, 200, first.text)
    const bucket = bucketCookie(first)
    assert.ok(
      bucket,
      `the first answer sets the ${BUCKET_COOKIE} cookie: ${JSON.stringify(first.headers['set-cookie'])}`,
    )
    assert.match(String(first.headers['set-cookie']), /; Path=\/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax$/)
    buckets.push(bucket!)
    const slots = [first.slot]
    for (let n = 1; n < perClient; n++) {
      // the cookie goes along; the address changes on every other request (a roaming client)
      const a = await get({ Cookie: `${BUCKET_COOKIE}=${bucket}` }, addr(n % 2 ? 100 + c * perClient + n : c))
      assert.is(bucketCookie(a), undefined, 'no new cookie while a valid one comes along')
      slots.push(a.slot)
    }
    seen.push(slots)
  }
  for (const [c, slots] of seen.entries()) {
    assert.is(new Set(slots).size, 1, `client ${c} (${buckets[c]}) saw ${slots.join(',')}`)
    byAddress.set(addr(c), slots[0]!)
  }
  const firstSlots = new Set(seen.map((s) => s[0]))
  assert.equal([...firstSlots].sort(), ['blue', 'green'], `across clients both slots: ${buckets.join(' ')}`)
  // the cookie alone decides: b1..b50 go to green, b51..b100 stay on blue, from any address
  assert.is((await get({ Cookie: `${BUCKET_COOKIE}=b7` }, addr(900))).slot, 'green')
  assert.is((await get({ Cookie: `${BUCKET_COOKIE}=b93` }, addr(900))).slot, 'blue')

  // cookie-less clients (they drop the cookie): sticky by their address
  for (let c = 0; c < 6; c++) {
    const slots = new Set<string>()
    for (let n = 0; n < 10; n++) slots.add((await get({}, addr(c))).slot)
    assert.equal([...slots], [seen[c]![0]], `cookie-less client ${c} keeps the slot of its address`)
  }
  const bad = answers.filter((a) => a.status !== 200)
  assert.is(bad.length, 0, `failed: ${JSON.stringify(bad.slice(0, 3).map((a) => [a.status, a.text]))}`)
  console.log(`  cookie mode: ${answers.length} answers, ${clients} clients, buckets ${buckets.join(' ')}, 0 failed`)
})

test('address mode: the address decides, a cookie is ignored and none is set', async () => {
  await shop.setSticky('address')
  setGradual(shop.live, 'green', 50)
  assert.equal(new Set(byAddress.values()), new Set(['blue', 'green']), 'addresses of both slots')
  for (const [from, slot] of byAddress) {
    for (const cookie of ['b7', 'b93']) {
      const a = await get({ Cookie: `${BUCKET_COOKIE}=${cookie}` }, from)
      assert.is(a.headers['set-cookie'], undefined)
      assert.is(a.slot, slot, `${from} with ${cookie}`)
    }
  }
})

test('request mode: one client sees both slots within the step, no cookie is set; 0 failed overall', async () => {
  await shop.setSticky('request')
  setGradual(shop.live, 'green', 50)
  const slots = new Set<string>()
  for (let n = 0; n < 60; n++) {
    const a = await get({ Cookie: `${BUCKET_COOKIE}=b93` }, addr(0))
    assert.is(a.headers['set-cookie'], undefined)
    slots.add(a.slot)
  }
  assert.equal([...slots].sort(), ['blue', 'green'], 'one client, one address, its cookie ignored: both slots')
  setLive(shop.live, 'blue')
  await shop.setSticky('cookie')
  const bad = answers.filter((a) => a.status !== 200)
  console.log(`  all: ${answers.length} answers, ${bad.length} failed`)
  assert.is(bad.length, 0, `failed: ${JSON.stringify(bad.slice(0, 3).map((a) => [a.status, a.text]))}`)
})

test.run()
