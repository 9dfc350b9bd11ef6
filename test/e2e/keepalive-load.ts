// A continuous keep-alive load for the e2e suites that run pyshop (app2, hosts-multi): `workers` clients in
// a loop over both of its routes, every answer counted by the slot nginx names (X-Deploy-Slot) and, where
// nginx adds X-Upstream, by the host address that answered; a response cut off in its body is a failure.
import https from 'node:https'

export type Load = {
  counts: {
    ok: number
    failed: number
    bySlot: Record<string, number>
    byHost: Record<string, number>
    errors: string[]
  }
  stop: () => Promise<void>
}

/** `workers` keep-alive clients in a loop over both routes; every answer counted by slot and by host address. */
export function keepAliveLoad(url: (p: string) => string, workers = 6): Load {
  const agent = new https.Agent({ keepAlive: true, maxSockets: workers, rejectUnauthorized: false })
  const counts: Load['counts'] = { ok: 0, failed: 0, bySlot: {}, byHost: {}, errors: [] }
  let running = true
  const one = (p: string) =>
    new Promise<void>((resolve) => {
      let settled = false
      const failed = (why: string) => {
        if (settled) return
        settled = true
        counts.failed++
        counts.errors.push(`${p}: ${why}`)
        resolve()
      }
      const req = https.get(url(p), { agent }, (res) => {
        res.resume()
        // a response cut off in its body is a failed request too (no 'end')
        res.on('error', (e) => failed(e.message))
        res.on('close', () => failed('the connection closed before the response ended'))
        res.on('end', () => {
          if (settled) return
          settled = true
          if (res.statusCode === 200) counts.ok++
          else {
            counts.failed++
            counts.errors.push(`${p}: ${res.statusCode}`)
          }
          const slot = String(res.headers['x-deploy-slot'])
          counts.bySlot[slot] = (counts.bySlot[slot] ?? 0) + 1
          // the last address nginx tried is the one that answered
          const host = String(res.headers['x-upstream']).split(', ').at(-1)!.split(':')[0]!
          counts.byHost[host] = (counts.byHost[host] ?? 0) + 1
          resolve()
        })
      })
      req.on('error', (e) => failed(e.message))
    })
  const loops = Array.from({ length: workers }, async (_, i) => {
    while (running) await one(i % 2 ? '/api/items' : '/')
  })
  return {
    counts,
    stop: async () => {
      running = false
      await Promise.all(loops)
      agent.destroy()
    },
  }
}
