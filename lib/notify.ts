// Notifications: a generic JSON webhook (WEBHOOK_URL) and a Slack-compatible one
// (SLACK_WEBHOOK_URL). Payloads are pure functions of an event; sending never throws and never
// fails the caller: a webhook that is down is a warning. Every body is masked before it leaves.
import os from 'node:os'
import type { Config } from './config.ts'
import { deliverWebhook, type Delivery } from './webhook.ts'
import type { Printer } from './ui.ts'

/** started, succeeded, rolled_back, failed for deploys; other parts may use their own words. */
export type NotifyEvent = {
  event: string
  target: string
  /** one line for people; Slack shows it */
  text: string
  version?: string
  slot?: string | null
  previousSlot?: string | null
  outcome?: string
  detail?: string
  durationMs?: number
}

const DEPLOY_WORDS: Record<string, string> = {
  started: 'started',
  succeeded: 'succeeded',
  rolled_back: 'was rolled back',
  failed: 'failed',
  interrupted: 'was interrupted',
}

/** The event of a deploy: "[dms production] deploy of v2 to green succeeded (34 s)". */
export function deployEvent(
  event: string,
  f: {
    target: string
    version: string
    slot?: string | null
    previousSlot?: string | null
    detail?: string
    durationMs?: number
    action?: string
  },
): NotifyEvent {
  const where = f.slot ? ` to ${f.slot}` : ''
  const took = f.durationMs !== undefined ? ` (${Math.round(f.durationMs / 1000)} s)` : ''
  const text = `[dms ${f.target}] ${f.action ?? 'deploy'} of ${f.version}${where} ${DEPLOY_WORDS[event] ?? event}${took}${f.detail ? `: ${f.detail}` : ''}`
  return {
    event,
    target: f.target,
    text,
    version: f.version,
    slot: f.slot ?? null,
    previousSlot: f.previousSlot ?? null,
    outcome: event,
    ...(f.detail ? { detail: f.detail } : {}),
    ...(f.durationMs !== undefined ? { durationMs: f.durationMs } : {}),
  }
}

/** The generic webhook body: every field of the event, plus where and when. */
export function webhookPayload(e: NotifyEvent, host = os.hostname(), now = new Date()): Record<string, unknown> {
  return { source: 'dms-deploy', time: now.toISOString(), host, ...e }
}

const COLORS: Record<string, string> = {
  started: '#439FE0',
  succeeded: 'good',
  rolled_back: 'warning',
  failed: 'danger',
  interrupted: 'warning',
}

/** Slack incoming-webhook body: `text` plus one attachment with the fields. */
export function slackPayload(e: NotifyEvent, host = os.hostname()): Record<string, unknown> {
  const fields = [
    ['Target', e.target],
    ['Version', e.version],
    ['Slot', e.slot],
    ['Previous slot', e.previousSlot],
    ['Host', host],
  ]
    .filter((f): f is [string, string] => typeof f[1] === 'string' && f[1] !== '')
    .map(([title, value]) => ({ title, value, short: true }))
  return {
    text: e.text,
    attachments: [{ color: COLORS[e.event] ?? '#cccccc', fields, ...(e.detail ? { text: e.detail } : {}) }],
  }
}

/**
 * Sends the event to every configured webhook. Never throws: a failed delivery is a warning.
 * Timeout: NOTIFY_TIMEOUT_MS (default 5000).
 */
export async function sendNotification(config: Config, event: NotifyEvent, ui: Printer): Promise<Delivery[]> {
  const timeoutMs = config.notifyTimeoutMs
  const masked = (doc: Record<string, unknown>) => JSON.parse(ui.mask(JSON.stringify(doc))) as unknown
  const sends: Array<Promise<Delivery[]>> = []
  if (config.webhookUrl) sends.push(deliverWebhook([config.webhookUrl], masked(webhookPayload(event)), timeoutMs))
  if (config.slackWebhookUrl)
    sends.push(deliverWebhook([config.slackWebhookUrl], masked(slackPayload(event)), timeoutMs))
  let results: Delivery[] = []
  try {
    results = (await Promise.all(sends)).flat()
  } catch (e) {
    ui.warn(`Can't send the ${event.event} notification: ${(e as Error).message}. The deploy is not affected.`)
    return []
  }
  for (const r of results) {
    if (r.ok) ui.detail(`notified ${ui.mask(r.url)}: ${r.detail}`)
    else
      ui.warn(
        `Can't send the ${event.event} notification to ${ui.mask(r.url)}: ${r.detail}. The deploy is not affected.`,
      )
  }
  return results
}
