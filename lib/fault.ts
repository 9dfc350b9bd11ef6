// Fault injection for the tests that race processes and kill them between steps. Unset (as in
// every real run) it does nothing. DMS_FAULT is a comma-separated list of <point>=<action>:
//   pause:<ms>   sleep a random 0..ms at that point (widens a race window)
//   kill         SIGKILL this process at that point (a crash between two steps)
//   kill@<n>     SIGKILL it the n-th time it reaches that point
// Points are named where they are called: lock.*, nginx.*, secrets.*.

/** Stops here as DMS_FAULT says for this point; a no-op when DMS_FAULT does not name it. */
const reached = new Map<string, number>()

export function faultPoint(point: string): void {
  const spec = process.env.DMS_FAULT
  if (!spec) return
  const n = (reached.get(point) ?? 0) + 1
  reached.set(point, n)
  for (const item of spec.split(',')) {
    const [name, action = ''] = item.split('=')
    if (name !== point) continue
    if (action === 'kill' || action === `kill@${n}`) process.kill(process.pid, 'SIGKILL')
    const pause = /^pause:(\d+)$/.exec(action)
    if (pause) sleepSync(Math.random() * Number(pause[1]))
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}
