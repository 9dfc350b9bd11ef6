// The retry policy of registry calls, pure: which failures are worth another try (the network,
// a registry restarting) and which are answers (no such tag, wrong password), and the waits between tries.

export type PullFailure = 'missing' | 'auth' | 'network' | 'other'

/** Classifies `docker pull`/`push`/`login` stderr. Order matters: a 404 is an answer even over a flaky link. */
export function classifyRegistryError(stderr: string): PullFailure {
  const s = stderr.toLowerCase()
  if (/manifest unknown|not found|name unknown|does not exist/.test(s)) return 'missing'
  if (/unauthorized|authentication required|denied|incorrect username or password|401/.test(s)) return 'auth'
  if (
    /connection refused|connection reset|i\/o timeout|timeout|eof|no such host|network is unreachable|tls handshake|broken pipe|50[0234]|temporarily unavailable|toomanyrequests|429/.test(
      s,
    )
  )
    return 'network'
  return 'other'
}

export type RetryPolicy = { attempts: number; baseMs: number; maxMs: number }

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseMs: 1000, maxMs: 8000 }

/** Waits before try 2, 3, …: doubling from baseMs, capped at maxMs (attempts - 1 waits). */
export function backoffDelays(p: RetryPolicy): number[] {
  return Array.from({ length: Math.max(0, p.attempts - 1) }, (_, i) => Math.min(p.maxMs, p.baseMs * 2 ** i))
}

/** Another try only for network failures, while tries and time are left. */
export function shouldRetry(kind: PullFailure, attempt: number, p: RetryPolicy, msLeft: number): number | null {
  if (kind !== 'network' || attempt >= p.attempts) return null
  const wait = backoffDelays(p)[attempt - 1]!
  return wait < msLeft ? wait : null
}
