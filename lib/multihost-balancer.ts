// The stack's nginx as the balancer of several hosts (#16): where the upstreams across hosts are written
// (<VAR_DIR>/nginx/hosts-upstreams.conf, beside the stack's generated includes) and nginx -t / reload in the
// stack's nginx container, through the gateway. The drained list lives in <VAR_DIR>/hosts-drained.json.
import path from 'node:path'
import { coreTarget, execArgs, type Shell } from './compose.ts'
import type { Config } from './config.ts'
import type { BalancerNginx } from './multihost-drain.ts'
import type { Paths } from './paths.ts'

export const drainedFile = (paths: Paths): string => path.join(paths.varDir, 'hosts-drained.json')

export function stackBalancer(sh: Shell, config: Config, paths: Paths): BalancerNginx {
  const t = coreTarget(config)
  const nginx = async (args: string[], action: string) => {
    await sh.docker(execArgs(t, 'nginx', ['nginx', ...args]), { env: t.env, action })
  }
  return {
    upstreamsFile: path.join(paths.nginx, 'hosts-upstreams.conf'),
    liveDir: paths.live,
    test: () => nginx(['-t'], 'check the nginx configuration'),
    reload: () => nginx(['-s', 'reload'], 'reload nginx'),
  }
}
