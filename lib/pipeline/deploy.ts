// The production pipeline: preflight, recovery of a killed run, plan, then
//   pre-deploy hook -> core -> backup -> create the candidate -> migrate -> smoke -> switch
//   (with the verification window) -> record, hooks, notify, metrics.
// Before the switch any failure or signal removes the candidate and the live slot keeps serving.
// From the first gradual step until the verification has passed, any failure or signal sends every
// request back to the old slot and keeps the candidate running for inspection: a release stays live
// only once it is verified. The plan is in deploy-plan.ts, the phases in deploy-run.ts, the endings in
// deploy-outcome.ts; importers keep importing from here.
import type { DeployPorts } from './adapters.ts'
import { failDeploy, finalMetrics, finishRecovered, recordSuccess } from './deploy-outcome.ts'
import { announceStart, runPhases, runPreDeployHook, startRun } from './deploy-run.ts'
import type { DeployOptions, DeployPlan, DeployResult } from './deploy-types.ts'

export { planDeploy } from './deploy-plan.ts'
export type { DeployOptions, DeployPlan, DeployResult } from './deploy-types.ts'

export async function executeDeploy(
  ports: DeployPorts,
  plan: DeployPlan,
  o: DeployOptions & { signal: AbortSignal },
): Promise<DeployResult> {
  const started = Date.now()
  if (plan.done) return finishRecovered(ports, plan, started)
  const run = startRun(ports, plan, o, started)
  await runPreDeployHook(run)
  await announceStart(run)
  try {
    try {
      await runPhases(run)
    } catch (err) {
      return await failDeploy(run, err)
    }
    return await recordSuccess(run)
  } finally {
    await finalMetrics(run)
  }
}
