// The timeline of one operation: when each step (and each service of a slot) started and ended, in
// milliseconds since the operation began; recorded in the JSON output and the audit entry, printed by --verbose.
import { performance } from 'node:perf_hooks'

export type TimelineEntry = {
  /** what happened: a step's title, or a service milestone ("container started", "first healthy probe", "ready") */
  name: string
  /** the service a milestone belongs to (absent for steps of the operation) */
  service?: string
  /** ms since the operation began */
  start: number
  /** ms since the operation began; equal to start for a milestone (a moment, not a span) */
  end: number
  ok: boolean
}

export type TimelineDoc = { startedAt: string; entries: TimelineEntry[] }

/** Records spans and milestones against one clock; never throws, costs one array push per entry. */
export class Timeline {
  readonly startedAt: string
  private readonly t0: number
  private readonly wall0: number
  private readonly list: TimelineEntry[] = []
  private readonly clock: () => number

  constructor(now: { perf: () => number; wall: () => number } = { perf: () => performance.now(), wall: Date.now }) {
    this.clock = now.perf
    this.t0 = now.perf()
    this.wall0 = now.wall()
    this.startedAt = new Date(this.wall0).toISOString()
  }

  /** ms since the operation began */
  now(): number {
    return Math.round(this.clock() - this.t0)
  }

  /** ms since the operation began for a wall-clock time (e.g. a container's StartedAt) */
  fromWall(wallMs: number): number {
    return Math.round(wallMs - this.wall0)
  }

  /** Starts a span; the returned function ends it (ok unless told otherwise). */
  begin(name: string, service?: string): (ok?: boolean) => void {
    const start = this.now()
    let ended = false
    return (ok = true) => {
      if (ended) return
      ended = true
      this.push({ name, ...(service ? { service } : {}), start, end: Math.max(start, this.now()), ok })
    }
  }

  /** Runs fn as a span: ok when it resolves, not ok when it throws. */
  async span<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const end = this.begin(name)
    try {
      const value = await fn()
      end(true)
      return value
    } catch (e) {
      end(false)
      throw e
    }
  }

  /** A moment (start = end), now or at a given offset. */
  mark(name: string, service?: string, at: number = this.now()): void {
    this.push({ name, ...(service ? { service } : {}), start: at, end: at, ok: true })
  }

  private push(e: TimelineEntry): void {
    this.list.push(e)
  }

  /** Entries in order of their start (a span is pushed when it ends, so it is sorted here). */
  entries(): TimelineEntry[] {
    return this.list
      .map((e, i) => ({ e, i }))
      .sort((a, b) => a.e.start - b.e.start || a.i - b.i)
      .map(({ e }) => e)
  }

  doc(): TimelineDoc {
    return { startedAt: this.startedAt, entries: this.entries() }
  }
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)}s`

/** Lines for --verbose: start, end, duration, and what. */
export function formatTimeline(entries: readonly TimelineEntry[]): string[] {
  return entries.map((e) => {
    const what = e.service ? `${e.service}: ${e.name}` : e.name
    const span = e.end > e.start ? `${secs(e.start)} → ${secs(e.end)} (${secs(e.end - e.start)})` : `${secs(e.start)}`
    return `  ${span.padEnd(30)} ${what}${e.ok ? '' : ' (failed)'}`
  })
}
