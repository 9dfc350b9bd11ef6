// Readiness of a slot by the toolkit's own probes through the preview listener: probe as soon as the
// containers are started, with a short back-off, until every service answers `consecutive` times in a row;
// never waits on Docker's healthcheck interval or a fixed sleep. Each service's first healthy probe and
// its readiness are marked on the operation's timeline.
import type { ProbeResult } from './probe.ts'
import type { Timeline } from './timeline.ts'
import { sleepUnlessAborted } from './wait.ts'

export type ReadinessOptions = {
  /** Date.now() value after which it gives up (at least one round is always probed) */
  deadline: number
  signal?: AbortSignal
  /** successes in a row a service needs to count as ready (default 2) */
  consecutive?: number
  /**
   * and for how long those successes must have lasted: from the first probe of the streak to the last
   * (default 0). A service that answers once it listens but is not yet warm (a connection pool still
   * opening) fails again within it instead of after the switch.
   */
  stableMs?: number
  /**
   * problems that make waiting pointless (an exited container); asked at most every checkEveryMs
   * while the slot is not ready, so a crashed service fails the wait at once instead of at the deadline
   */
  fatalProblems?: () => Promise<string[]>
  checkEveryMs?: number
}

export type ReadinessResult = {
  ok: boolean
  rounds: number
  /** the last round of probes (on failure: why) */
  last: ProbeResult[]
  /** set when fatalProblems reported something */
  fatal: string[]
}

/** The pause after probing round n (1-based): 50, 100, 200, then 250 ms. */
export function backoffMs(round: number): number {
  return Math.min(250, 25 * 2 ** Math.max(1, round))
}

/**
 * Probes every service of a slot in rounds (probeRound returns one result per service, named by it)
 * until each has `consecutive` successes in a row, the deadline passes, a fatal problem shows or the
 * signal aborts.
 */
export async function waitUntilReady(
  probeRound: (signal?: AbortSignal) => Promise<ProbeResult[]>,
  timeline: Timeline,
  o: ReadinessOptions,
): Promise<ReadinessResult> {
  const need = o.consecutive ?? 2
  const stableMs = o.stableMs ?? 0
  const streak = new Map<string, number>()
  /** when each service's current streak of successes began (its probe's start) */
  const since = new Map<string, number>()
  const firstOk = new Set<string>()
  const ready = new Set<string>()
  let last: ProbeResult[] = []
  let rounds = 0
  let lastCheck = Date.now()
  const held = (name: string, now: number) =>
    (streak.get(name) ?? 0) >= need && now - (since.get(name) ?? now) >= stableMs
  do {
    const roundStart = Date.now()
    last = await probeRound(o.signal)
    rounds++
    const now = Date.now()
    for (const r of last) {
      const n = r.ok ? (streak.get(r.name) ?? 0) + 1 : 0
      streak.set(r.name, n)
      if (n === 1) since.set(r.name, roundStart)
      if (r.ok && !firstOk.has(r.name)) {
        firstOk.add(r.name)
        timeline.mark('first healthy probe', r.name)
      }
      if (held(r.name, now) && !ready.has(r.name)) {
        ready.add(r.name)
        timeline.mark('ready through the preview listener', r.name)
      }
    }
    if (last.length > 0 && last.every((r) => held(r.name, now))) return { ok: true, rounds, last, fatal: [] }
    if (o.fatalProblems && Date.now() - lastCheck >= (o.checkEveryMs ?? 2000)) {
      lastCheck = Date.now()
      const fatal = await o.fatalProblems().catch(() => [])
      if (fatal.length) return { ok: false, rounds, last, fatal }
    }
    await sleepUnlessAborted(Math.min(backoffMs(rounds), Math.max(0, o.deadline - Date.now())), o.signal)
  } while (Date.now() < o.deadline && !o.signal?.aborted)
  return { ok: false, rounds, last, fatal: [] }
}
