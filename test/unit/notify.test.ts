// Notifications: payload shapes, masking before the body leaves, and a failing webhook that only warns.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../lib/config.ts'
import { deployEvent, sendNotification, slackPayload, webhookPayload } from '../../lib/notify.ts'
import { Printer } from '../../lib/ui.ts'
import { tempEnvDir } from '../helpers/run.ts'

const SECRET = 'Zq8vN3kP1xR7tW5yB2mC'

function capture(): { out: string; printer: Printer } {
  const sink = { out: '' }
  const stream = {
    write: (s: string) => {
      sink.out += s
      return true
    },
  } as never
  const printer = new Printer({ out: stream, err: stream })
  return Object.defineProperty({ printer } as { out: string; printer: Printer }, 'out', { get: () => sink.out })
}

test('a deploy event reads as one line and carries the release fields', () => {
  const e = deployEvent('rolled_back', {
    target: 'production',
    version: 'v2',
    slot: 'green',
    previousSlot: 'blue',
    detail: 'verification failed',
    durationMs: 34_400,
  })
  assert.is(e.text, '[dms production] deploy of v2 to green was rolled back (34 s): verification failed')
  const w = webhookPayload(e, 'host1', new Date('2026-01-02T03:04:05Z'))
  assert.equal(
    {
      source: w.source,
      time: w.time,
      host: w.host,
      event: w.event,
      version: w.version,
      slot: w.slot,
      previousSlot: w.previousSlot,
      outcome: w.outcome,
    },
    {
      source: 'dms-deploy',
      time: '2026-01-02T03:04:05.000Z',
      host: 'host1',
      event: 'rolled_back',
      version: 'v2',
      slot: 'green',
      previousSlot: 'blue',
      outcome: 'rolled_back',
    },
  )
  const s = slackPayload(e, 'host1') as {
    text: string
    attachments: Array<{ color: string; fields: Array<{ title: string; value: string }> }>
  }
  assert.is(s.text, e.text)
  assert.is(s.attachments[0]!.color, 'warning')
  assert.equal(
    s.attachments[0]!.fields.map((f) => f.title),
    ['Target', 'Version', 'Slot', 'Previous slot', 'Host'],
  )
})

test('both webhooks get their payload with secrets masked; a dead webhook only warns', async () => {
  const bodies: Array<{ url: string; body: string }> = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      bodies.push({ url: req.url ?? '', body })
      res.writeHead(200).end('ok')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  try {
    const config = loadConfig({
      target: 'staging',
      env: {
        DMS_ENV_DIR: tempEnvDir(),
        POSTGRES_PASSWORD: SECRET,
        REDIS_PASSWORD: 'Rr8vN3kP1xR7tW5yB2mD',
        WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
        SLACK_WEBHOOK_URL: `http://127.0.0.1:${port}/slack`,
      },
      generateSecrets: false,
    })
    const c = capture()
    c.printer.secrets.add(config.secrets)
    const sent = await sendNotification(
      config,
      deployEvent('failed', { target: 'staging', version: 'v2', detail: `password ${SECRET} rejected` }),
      c.printer,
    )
    assert.equal(
      sent.map((d) => d.ok),
      [true, true],
    )
    assert.equal(bodies.map((b) => b.url).sort(), ['/hook', '/slack'])
    for (const b of bodies) {
      assert.not.ok(b.body.includes(SECRET), 'secret masked in the body')
      assert.ok(b.body.includes('****'))
    }
    assert.ok(
      JSON.parse(bodies.find((b) => b.url === '/slack')!.body).text.startsWith('[dms staging] deploy of v2 failed'),
    )

    const dead = loadConfig({
      target: 'staging',
      env: { DMS_ENV_DIR: tempEnvDir(), WEBHOOK_URL: 'http://127.0.0.1:9/down', NOTIFY_TIMEOUT_MS: '1000' },
      generateSecrets: false,
    })
    const d = capture()
    d.printer.secrets.add(dead.secrets)
    const failed = await sendNotification(dead, deployEvent('started', { target: 'staging', version: 'v3' }), d.printer)
    assert.equal(
      failed.map((x) => x.ok),
      [false],
    )
    assert.match(d.out, /Can't send the started notification to \*\*\*\*: .*The deploy is not affected/)
  } finally {
    server.close()
  }
})

test.run()
