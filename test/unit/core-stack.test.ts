// The runtime settings production's core and staging share (lib/core-stack.ts runtimeSettings): the
// Alertmanager receiver credentials of the target's env files reach prepareRuntime for both.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../lib/config.ts'
import { runtimeSettings } from '../../lib/core-stack.ts'
import { tempEnvDir } from '../helpers/run.ts'

const local = [
  'POSTGRES_PASSWORD=Qm9vdGggc3Ryb25nIHNlY3JldA',
  'REDIS_PASSWORD=aW5kZWVkIGEgc3Ryb25nIG9uZQ',
  'ALERT_SLACK_WEBHOOK_URL=https://hooks.slack.example/services/T0/B0/x',
  'ALERT_PAGERDUTY_ROUTING_KEY=pd-routing-key-0123',
  'ALERT_SMTP_PASSWORD=smtp-secret-0123',
].join('\n')

for (const target of ['staging', 'production'] as const) {
  test(`${target}: the receiver credentials of the .local file are in the runtime settings`, () => {
    const dir = tempEnvDir({ [`.env.${target}.local`]: `${local}\n` })
    const config = loadConfig({ target, env: { DMS_ENV_DIR: dir }, generateSecrets: false })
    const s = runtimeSettings(config)
    assert.equal(s.alertmanager, {
      slackWebhookUrl: 'https://hooks.slack.example/services/T0/B0/x',
      pagerdutyRoutingKey: 'pd-routing-key-0123',
      smtpPassword: 'smtp-secret-0123',
    })
    assert.is(s.varDir, config.varDir)
    assert.is(s.postgresPassword, 'Qm9vdGggc3Ryb25nIHNlY3JldA')
  })
}

test('without credentials every receiver file is written empty (that receiver stays unconfigured)', () => {
  const dir = tempEnvDir()
  const s = runtimeSettings(loadConfig({ target: 'staging', env: { DMS_ENV_DIR: dir }, generateSecrets: false }))
  assert.equal(s.alertmanager, { slackWebhookUrl: '', pagerdutyRoutingKey: '', smtpPassword: '' })
})

test.run()
