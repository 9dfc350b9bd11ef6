// The words of the deploy pipeline: its options, its plan, its result, and one run's shared state.
import type { CreatePlan, SwitchResult } from '../bluegreen.ts'
import type { PendingMigrations } from '../db.ts'
import type { DeployOutcome } from '../deploy-metrics.ts'
import type { HookContext, HookName, HookResult } from '../hooks.ts'
import type { Slot } from '../model.ts'
import type { SmokeReport } from '../smoke.ts'
import type { BackupOutcome, DeployPorts } from './adapters.ts'

export type DeployOptions = {
  version: string
  build: boolean
  gradual: number[]
  stepMs: number
  verifyMs: number
  allowContract: boolean
  timeoutMs: number
  /** stops a recovery's verification early (the deploy itself gets its signal at execute) */
  signal?: AbortSignal
}

export type DeployPlan = {
  version: string
  slot: Slot
  live: Slot
  liveVersion: string | null
  firstDeploy: boolean
  create: CreatePlan
  migrations: PendingMigrations | null
  migrationsNote: string
  gradual: number[]
  preflight: string[]
  recovered: string[]
  steps: string[]
  /** the recovery of a killed run of this same deploy finished it: nothing else to do */
  done?: boolean
}

export type DeployResult = {
  outcome: 'succeeded' | 'interrupted'
  version: string
  slot: Slot
  previous: Slot
  backup: BackupOutcome | null
  migrationsApplied: string[]
  smoke: SmokeReport | null
  switch: SwitchResult | null
  durationMs: number
}

/** One run of executeDeploy: what its phases, its failure and its record share. */
export type DeployRun = {
  ports: DeployPorts
  plan: DeployPlan
  o: DeployOptions & { signal: AbortSignal }
  started: number
  result: DeployResult
  /** the backup, once taken, is handed to the hooks after it */
  backup: HookContext['backup']
  created: boolean
  switching: boolean
  outcome: DeployOutcome
  ctx(outcome: string): HookContext
  /** runs a hook after the deploy's outcome is known: its failure is a warning */
  hook(name: HookName, outcome: string): Promise<HookResult>
  /** stops on a signal; once the candidate exists, records the step reached as pending */
  checkpoint(step: string): void
}
