// The webhook sender against a real HTTP server: the JSON body and content type arrive, a 2xx is
// a delivery, a 500 or a closed port is a failed delivery that does not throw.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { deliverWebhook } from '../../lib/webhook.ts'

type Seen = { method: string; type: string; body: string }

async function server(status: number): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = []
  const s = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c) => {
      body += c
    })
    req.on('end', () => {
      seen.push({ method: req.method ?? '', type: String(req.headers['content-type']), body })
      res.writeHead(status).end('ok')
    })
  })
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/hook`, seen, close: () => new Promise((r) => s.close(() => r())) }
}

test('every URL gets the JSON document by POST; a 2xx is ok, a 500 is a failed delivery', async () => {
  const good = await server(204)
  const bad = await server(500)
  try {
    const r = await deliverWebhook([good.url, bad.url], { text: 'hello', n: 1 }, 5000)
    assert.equal(
      r.map((d) => [d.url, d.ok]),
      [
        [good.url, true],
        [bad.url, false],
      ],
    )
    for (const s of [good, bad]) {
      assert.is(s.seen.length, 1)
      assert.equal(s.seen[0], { method: 'POST', type: 'application/json', body: '{"text":"hello","n":1}' })
    }
    assert.match(r[1]!.detail, /500/)
  } finally {
    await good.close()
    await bad.close()
  }
})

test('a webhook that is not listening is a failed delivery, not an exception', async () => {
  const gone = await server(200)
  await gone.close()
  const r = await deliverWebhook([gone.url], { text: 'x' }, 2000)
  assert.is(r.length, 1)
  assert.is(r[0]!.ok, false)
  assert.ok(r[0]!.detail.length > 0)
})

test.run()
