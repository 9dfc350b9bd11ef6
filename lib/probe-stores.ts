// Probes of the accessories: PostgreSQL (SELECT 1, connections in use) and Redis (PING, memory).
// Like the network probes they never throw for an expected failure.
import { performance } from 'node:perf_hooks'
import { elapsed, errorText, type ProbeResult } from './probe.ts'
import { RedisClient } from './redis-client.ts'

/** Race a promise against a timeout and an abort signal; cleanup runs when time runs out. */
function withTimeout<T>(
  work: Promise<T>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  cleanup: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false
    const end = (fn: () => void) => {
      if (done) return
      done = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      fn()
    }
    const onAbort = () =>
      end(() => {
        cleanup()
        reject(new Error('aborted (overall deadline reached)'))
      })
    const timer = setTimeout(
      () =>
        end(() => {
          cleanup()
          reject(new Error(`timed out after ${timeoutMs} ms`))
        }),
      timeoutMs,
    )
    if (signal?.aborted) return onAbort()
    signal?.addEventListener('abort', onAbort, { once: true })
    work.then(
      (v) => end(() => resolve(v)),
      (e) => end(() => reject(e)),
    )
  })
}

export type PostgresProbeOptions = {
  name?: string
  host: string
  port: number
  user: string
  password: string
  database: string
  timeoutMs: number
  signal?: AbortSignal
}

/** Connect, SELECT 1, and read client connections in use against max_connections. */
export async function probePostgres(opts: PostgresProbeOptions): Promise<ProbeResult> {
  const name = opts.name ?? `postgres ${opts.host}:${opts.port}`
  // loaded on first use: most runs of most scripts never talk to PostgreSQL
  const pg = (await import('pg')).default
  const start = performance.now()
  const client = new pg.Client({
    host: opts.host,
    port: opts.port,
    user: opts.user,
    password: opts.password,
    database: opts.database,
    connectionTimeoutMillis: opts.timeoutMs,
    query_timeout: opts.timeoutMs,
    application_name: 'dms-health-probe',
  })
  client.on('error', () => {}) // a late socket error after we gave up must not crash the process
  const work = (async () => {
    await client.connect()
    await client.query('SELECT 1')
    const r = await client.query<{ used: number; max: number }>(
      `SELECT count(*) FILTER (WHERE backend_type = 'client backend')::int AS used,
              current_setting('max_connections')::int AS max
         FROM pg_stat_activity`,
    )
    return r.rows[0]!
  })()
  try {
    const row = await withTimeout(work, opts.timeoutMs, opts.signal, () => {
      client.end().catch(() => {})
    })
    const connections = { used: Number(row.used), max: Number(row.max) }
    return {
      name,
      ok: true,
      latencyMs: elapsed(start),
      detail: `SELECT 1 ok; ${connections.used}/${connections.max} connections`,
      connections,
    }
  } catch (err) {
    work.catch(() => {})
    return { name, ok: false, latencyMs: elapsed(start), detail: errorText(err) }
  } finally {
    client.end().catch(() => {})
  }
}

export type RedisProbeOptions = {
  name?: string
  host: string
  port: number
  password?: string
  timeoutMs: number
  signal?: AbortSignal
}

/** PING, then INFO memory: used_memory against maxmemory. */
export async function probeRedis(opts: RedisProbeOptions): Promise<ProbeResult> {
  const name = opts.name ?? `redis ${opts.host}:${opts.port}`
  const start = performance.now()
  let client: RedisClient | undefined
  const work = (async () => {
    client = await RedisClient.connect(opts.host, opts.port, opts.timeoutMs, opts.signal)
    if (opts.password) await client.auth(opts.password)
    const pong = await client.ping()
    if (pong !== 'PONG') throw new Error(`PING answered ${JSON.stringify(pong)}`)
    const info = await client.info('memory')
    return { used: Number(info.used_memory ?? NaN), max: Number(info.maxmemory ?? 0) }
  })()
  try {
    const memory = await withTimeout(work, opts.timeoutMs, opts.signal, () => client?.close())
    const maxText = memory.max > 0 ? `${memory.max} bytes` : 'no limit'
    return { name, ok: true, latencyMs: elapsed(start), detail: `PONG; memory ${memory.used} of ${maxText}`, memory }
  } catch (err) {
    work.catch(() => {})
    return { name, ok: false, latencyMs: elapsed(start), detail: errorText(err) }
  } finally {
    client?.close()
  }
}
