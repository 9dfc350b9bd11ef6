// Waiting on probes: run many under one deadline, poll one until it is healthy, sleep unless aborted.
import { performance } from 'node:perf_hooks'
import { elapsed, errorText, type Probe, type ProbeResult } from './probe.ts'

/**
 * Run all probes in parallel under one deadline. A probe still running at the deadline
 * is reported as failed ("timed out after N ms") and its signal is aborted; the call
 * returns by the deadline. Results keep the order of the probes.
 */
export function runProbes(probes: readonly Probe[], { deadlineMs }: { deadlineMs: number }): Promise<ProbeResult[]> {
  const controller = new AbortController()
  const start = performance.now()
  const results: (ProbeResult | undefined)[] = probes.map(() => undefined)
  return new Promise<ProbeResult[]>((resolve) => {
    let remaining = probes.length
    let finished = false
    const complete = () => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      const out = probes.map(
        (p, i) =>
          results[i] ?? {
            name: p.name,
            ok: false,
            latencyMs: elapsed(start),
            detail: `timed out after ${deadlineMs} ms`,
          },
      )
      controller.abort()
      resolve(out)
    }
    const timer = setTimeout(complete, deadlineMs)
    if (remaining === 0) return complete()
    probes.forEach((p, i) => {
      let running: Promise<ProbeResult>
      try {
        running = p.run(controller.signal)
      } catch (err) {
        running = Promise.reject(err)
      }
      running
        .catch((err): ProbeResult => ({ name: p.name, ok: false, latencyMs: elapsed(start), detail: errorText(err) }))
        .then((r) => {
          if (finished) return
          results[i] = { ...r, name: p.name }
          if (--remaining === 0) complete()
        })
    })
  })
}

/** Waits ms, or less when the signal aborts first; never throws. */
export function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}

export type WaitHealthyOptions = { consecutive: number; intervalMs: number; deadlineMs: number; signal?: AbortSignal }
export type WaitHealthyResult = {
  ok: boolean
  attempts: number
  elapsedMs: number
  /** the last probe result: on failure, the reason it gave up */
  last: ProbeResult | undefined
  detail: string
}

/**
 * Poll probeFn until it succeeds `consecutive` times in a row or the deadline passes.
 * Each attempt is cut off at the deadline; on giving up, `last` is the last failure.
 */
export async function waitHealthy(
  probeFn: (signal: AbortSignal) => Promise<ProbeResult>,
  { consecutive, intervalMs, deadlineMs, signal }: WaitHealthyOptions,
): Promise<WaitHealthyResult> {
  const start = performance.now()
  const deadline = start + deadlineMs
  let streak = 0
  let attempts = 0
  let last: ProbeResult | undefined
  let lastFailure: ProbeResult | undefined
  let cutOff = false
  while (!signal?.aborted) {
    const left = deadline - performance.now()
    if (left <= 0) break
    attempts++
    const attempt = await attemptUntil(probeFn, left)
    if (attempt.cutOff) {
      // a real failure says more than "still running at the deadline"
      cutOff = true
      last = lastFailure ?? attempt.result
      break
    }
    last = attempt.result
    if (last.ok) {
      streak++
      if (streak >= consecutive) {
        return {
          ok: true,
          attempts,
          elapsedMs: elapsed(start),
          last,
          detail: `healthy: ${streak} consecutive successes after ${attempts} attempts`,
        }
      }
    } else {
      streak = 0
      lastFailure = last
    }
    const wait = Math.min(intervalMs, deadline - performance.now())
    if (wait <= 0) break
    await sleepUnlessAborted(wait, signal)
  }
  const why = lastFailure ?? last
  return {
    ok: false,
    attempts,
    elapsedMs: elapsed(start),
    last: why,
    detail:
      `not healthy after ${attempts} attempts in ${deadlineMs} ms` +
      (why ? `; last failure: ${why.detail}` : '') +
      (cutOff && why !== undefined && lastFailure !== undefined
        ? '; the last attempt was still running at the deadline'
        : '') +
      (streak > 0 ? ` (${streak} of ${consecutive} consecutive successes)` : ''),
  }
}

/** One attempt, cut off (and its signal aborted) when timeMs runs out. */
function attemptUntil(
  probeFn: (signal: AbortSignal) => Promise<ProbeResult>,
  timeMs: number,
): Promise<{ result: ProbeResult; cutOff: boolean }> {
  const controller = new AbortController()
  const start = performance.now()
  return new Promise((resolve) => {
    let done = false
    const end = (result: ProbeResult, cutOff: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (cutOff) controller.abort()
      resolve({ result, cutOff })
    }
    const timer = setTimeout(
      () =>
        end(
          { name: 'attempt', ok: false, latencyMs: elapsed(start), detail: `timed out after ${Math.round(timeMs)} ms` },
          true,
        ),
      timeMs,
    )
    let running: Promise<ProbeResult>
    try {
      running = probeFn(controller.signal)
    } catch (err) {
      running = Promise.reject(err)
    }
    running.then(
      (r) => end(r, false),
      (err) => end({ name: 'attempt', ok: false, latencyMs: elapsed(start), detail: errorText(err) }, false),
    )
  })
}
