// The webhook sender: POSTs a JSON document to generic and Slack-compatible incoming webhooks
// (health alerts and deploy notifications both send through it). Never throws.
import { probeHttp } from './probe.ts'

export type Delivery = { url: string; ok: boolean; detail: string }

/**
 * POSTs the payload to every webhook URL (JSON). Never throws: each delivery says how it
 * went (a 2xx answer is ok). Health alerts remember the new states only when every delivery
 * succeeded, so a failed notification is retried on the next run.
 */
export async function deliverWebhook(
  urls: readonly string[],
  payload: unknown,
  timeoutMs: number,
): Promise<Delivery[]> {
  const body = JSON.stringify(payload)
  return Promise.all(
    urls.map(async (url) => {
      const r = await probeHttp({
        url,
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
        expectStatus: [200, 299],
        timeoutMs,
      })
      return { url, ok: r.ok, detail: r.detail }
    }),
  )
}
