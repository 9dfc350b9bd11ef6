// The words of the domain, at the bottom of the import graph: slots, the release/version
// rules and their validators, the state and audit record types, and the Store interface that
// operations write history through. Imports nothing from lib/ but errors.ts (and timeline.ts's types).
import type { TimelineEntry } from './timeline.ts'
import { RefusedError, shownValue } from './errors.ts'

// ---------------------------------------------------------------- slots

export type Slot = 'blue' | 'green'
export const SLOTS: readonly Slot[] = ['blue', 'green']
export const otherSlot = (s: Slot): Slot => (s === 'blue' ? 'green' : 'blue')
export const SLOT_NUM: Record<Slot, number> = { blue: 1, green: 2 }

// ---------------------------------------------------------------- versions

/** A Docker image tag: 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-' (so never ".." or a flag). */
export const VERSION_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/

export function validateVersion(version: unknown, flag = '--version'): string {
  if (typeof version !== 'string' || version === '')
    throw new RefusedError(`Can't continue: ${flag} is required`, `Give the release's image tag, e.g. ${flag} v1.4.2`)
  if (!VERSION_RE.test(version)) {
    throw new RefusedError(
      `Can't use ${flag} ${shownValue(version)}: a version is an image tag: 1 to 128 letters, digits, '.', '_' or '-', not starting with '.' or '-'`,
      `Use the image tag, e.g. ${flag} v1.4.2. Nothing was changed.`,
    )
  }
  return version
}

export function validateSlot(slot: unknown): Slot | undefined {
  if (slot === undefined) return undefined
  if (slot !== 'blue' && slot !== 'green')
    throw new RefusedError(
      `Can't use --slot ${shownValue(String(slot))}: a slot is blue or green`,
      'Nothing was changed.',
    )
  return slot
}

// ---------------------------------------------------------------- records

export type Release = {
  version: string
  slot: Slot
  deployedAt: string
  deployedBy: string
  images?: Record<string, string>
  /** true once it passed its verification window; false while unverified or after it failed */
  verified?: boolean
  /** why its verification failed (it is then no rollback target without --allow-unverified) */
  failure?: string
  /** containers left behind when removing it failed (the slot is occupied by them) */
  left?: string[]
}

export type HistoryEntry = {
  time: string
  action: string
  outcome: string
  version?: string
  from?: Slot | null
  to?: Slot | null
  detail?: string
}

export type DeployState = {
  schema: 1
  target: string
  /** the live slot as last recorded (nginx's marker is the truth; a disagreement is drift) */
  live: Slot | null
  /** the release each slot holds (null: empty or stopped) */
  slots: Record<Slot, Release | null>
  /** the slot that was live before the last switch, kept warm until warmUntil */
  previous: { slot: Slot; version: string; warmUntil: string } | null
  /** releases in the order they were made live, newest last */
  releases: Release[]
  history: HistoryEntry[]
  /** an operation under way: what a crashed run left behind */
  pending: {
    operation: string
    version?: string
    slot?: Slot
    from?: Slot
    step: string
    startedAt: string
    pid: number
  } | null
}

export function emptyState(target: string): DeployState {
  return {
    schema: 1,
    target,
    live: null,
    slots: { blue: null, green: null },
    previous: null,
    releases: [],
    history: [],
    pending: null,
  }
}

export function addHistory(s: DeployState, entry: Omit<HistoryEntry, 'time'>): void {
  s.history.push({ time: new Date().toISOString(), ...entry })
}

export type AuditEntry = {
  action: string
  outcome: string
  target?: string
  version?: string
  slot?: Slot | null
  durationMs?: number
  detail?: string
  command?: string
  /** the operation's steps so far (lib/timeline.ts) */
  timeline?: TimelineEntry[]
}

/** The gates of a switch's verification window: the share of probes that must succeed and their p95. */
export type SwitchThresholds = { minSuccessRate: number; maxP95Ms: number }

/** The answer of one probe (HTTP, TCP, PostgreSQL, Redis), as probes return it and evaluators read it. */
export type ProbeResult = {
  name: string
  ok: boolean
  latencyMs: number
  detail: string
  /** HTTP status code, when an HTTP answer arrived */
  status?: number
  /** HTTP response headers (lower-case names; multi-valued joined with ", ") */
  headers?: Record<string, string>
  /** the response body (first 256 KiB), only with keepBody */
  body?: string
  /** HTTPS: the peer certificate's expiry */
  tls?: { validTo: string; daysLeft: number; subject: string }
  /** PostgreSQL: client connections in use and max_connections */
  connections?: { used: number; max: number }
  /** Redis: used_memory and maxmemory in bytes (max 0 = no limit) */
  memory?: { used: number; max: number }
}

// ---------------------------------------------------------------- the store port

/** Where operations read and write their history: the state file and audit log, or fakes in tests. */
export interface Store {
  read(): DeployState
  update(fn: (s: DeployState) => void): DeployState
  audit(entry: AuditEntry): void
  /** tells monitoring which slot is live now (and counts rollbacks and switch-backs); never throws */
  recordLive?(slot: Slot, rollback: boolean): Promise<void>
}
