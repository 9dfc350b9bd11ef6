// The deploy lock: at most one holder, ever. The kernel decides who holds it: an advisory
// flock(2) on deploy.lock.flock, taken through util-linux's `flock` on a descriptor this process
// keeps open, so the lock dies with the process (even by SIGKILL) and two processes can never
// both hold it. deploy.lock beside it names the holder (pid, host, user, command, start time) for
// `status` and for the "another deploy holds the lock" message; it is written atomically once the
// kernel lock is ours, and removed on release. A deploy.lock found while nobody holds the kernel
// lock was left by a process that died: it is reported as a stale lock taken over.
import fs from 'node:fs'
import path from 'node:path'
import { commandLine, whoami } from './who.ts'
import { LockHeldError, OperationError, RefusedError, errorMessage } from './errors.ts'
import { faultPoint } from './fault.ts'
import { writeFileAtomic } from './fsutil.ts'
import { runSync } from './gateway.ts'

export type LockHolder = { pid: number; host: string; user: string; command: string; startedAt: string }

export type Lock = { file: string; holder: LockHolder; release: () => void }

export class LockCorruptError extends RefusedError {}

/** The file the kernel lock is taken on (never removed: removing it would let two inodes be locked). */
export const kernelLockFile = (file: string) => `${file}.flock`

export function readLock(file: string): LockHolder | null {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw e
  }
  try {
    const h = JSON.parse(text) as LockHolder
    if (!Number.isInteger(h.pid) || typeof h.host !== 'string' || typeof h.startedAt !== 'string')
      throw new Error('fields missing')
    return h
  } catch (e) {
    throw new LockCorruptError(
      `Can't tell who holds the deploy lock: ${file} is not a lock file (${errorMessage(e)}). Nothing was changed.`,
      'Make sure no deploy is running (npx zx scripts/status.ts), then remove it with --force-unlock.',
    )
  }
}

export function describeHolder(h: LockHolder): string {
  const age = Math.round((Date.now() - Date.parse(h.startedAt)) / 1000)
  return `pid ${h.pid} on ${h.host} (${h.user}), running "${h.command}" for ${age}s since ${h.startedAt}`
}

export type AcquireOptions = {
  command?: string
  /** how long to wait for a held lock; 0: refuse at once */
  waitMs?: number
  pollMs?: number
  signal?: AbortSignal
  /** told when a stale lock is taken over (to print and audit it) */
  onStale?: (stale: LockHolder) => void
  onWait?: (holder: LockHolder) => void
}

const FLOCK_BUSY = 75
const UNNAMED_GRACE_MS = 2000

/** `flock --nonblock` on our descriptor (fd 3 of the child): true when the kernel lock is now ours. */
function tryKernelLock(fd: number, kernelFile: string): boolean {
  const r = runSync('flock', ['--nonblock', '--conflict-exit-code', String(FLOCK_BUSY), '3'], {
    timeoutMs: 10_000,
    fd3: fd,
  })
  if (r.code === 0) return true
  if (r.code === FLOCK_BUSY) return false
  throw new OperationError(
    `Can't take the deploy lock: flock on ${kernelFile} failed (${r.stderr.trim() || `exit ${r.code}`}). Nothing was changed.`,
    'The deploy lock needs flock from util-linux (Debian/Ubuntu: apt-get install util-linux) and a filesystem with flock support.',
  )
}

/**
 * Runs fn while holding an exclusive kernel lock on `file` (a file or a directory), waiting up to
 * waitMs for another holder. For short critical sections such as generating first-run secrets.
 */
export function withKernelLockSync<T>(file: string, waitMs: number, fn: () => T): T {
  const fd = fs.openSync(file, 'r')
  try {
    const secs = String(Math.max(0.1, waitMs / 1000))
    const r = runSync('flock', ['--wait', secs, '--conflict-exit-code', String(FLOCK_BUSY), '3'], {
      timeoutMs: waitMs + 10_000,
      fd3: fd,
    })
    if (r.code === FLOCK_BUSY)
      throw new LockHeldError(
        `Can't lock ${file}: another process held it for more than ${secs}s. Nothing was changed.`,
        null,
        'Try again when the other run has finished.',
      )
    if (r.code !== 0)
      throw new OperationError(
        `Can't lock ${file}: flock failed (${r.stderr.trim() || `exit ${r.code}`}). Nothing was changed.`,
        'It needs flock from util-linux.',
      )
    return fn()
  } finally {
    fs.closeSync(fd) // the kernel lets go of the lock here
  }
}

/** Is the kernel lock held by a live process right now? (Probes with a descriptor of its own.) */
export function lockHeld(file: string): boolean {
  let fd: number
  try {
    fd = fs.openSync(kernelLockFile(file), 'r')
  } catch {
    return false
  }
  try {
    return !tryKernelLock(fd, kernelLockFile(file))
  } finally {
    fs.closeSync(fd) // closing our descriptor drops the lock if the probe took it
  }
}

function heldError(file: string, current: LockHolder | null, host: string): LockHeldError {
  const who = current ? describeHolder(current) : `a process that has not written ${file} yet (it is just starting)`
  return new LockHeldError(
    `Can't take the deploy lock: another deploy holds it: ${who}. Nothing was changed.`,
    current,
    !current || current.host === host
      ? 'Wait for it to finish (or use --lock-wait <seconds>).'
      : `It runs on another host (${current.host}); wait for it to finish (or use --lock-wait <seconds>).`,
  )
}

/** Takes the deploy lock, waiting up to waitMs for a live holder; a lock whose holder died is taken over. */
export async function acquireLock(file: string, opts: AcquireOptions = {}): Promise<Lock> {
  const { user, host } = whoami()
  const holder: LockHolder = {
    pid: process.pid,
    host,
    user,
    command: opts.command ?? commandLine(),
    startedAt: new Date().toISOString(),
  }
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const kernelFile = kernelLockFile(file)
  const fd = fs.openSync(kernelFile, fs.constants.O_RDONLY | fs.constants.O_CREAT, 0o644)
  const deadline = Date.now() + (opts.waitMs ?? 0)
  // a holder that has not written deploy.lock yet is just starting (or is a --force-unlock probe):
  // worth a short wait even with --lock-wait 0, to name it or to get the lock
  const unnamedUntil = Date.now() + UNNAMED_GRACE_MS
  let told = false
  try {
    while (!tryKernelLock(fd, kernelFile)) {
      const current = readLock(file)
      const waitMore = Date.now() < deadline || (current === null && Date.now() < unnamedUntil)
      if (!waitMore || opts.signal?.aborted) throw heldError(file, current, host)
      if (!told && current) {
        opts.onWait?.(current)
        told = true
      }
      await new Promise((r) =>
        setTimeout(r, current === null ? 50 : Math.min(opts.pollMs ?? 200, Math.max(10, deadline - Date.now()))),
      )
    }
    faultPoint('lock.acquired')
    // the kernel lock is ours: a holder named in the file is gone (it removes the file before it lets go)
    const stale = readLock(file)
    if (stale) opts.onStale?.(stale)
    writeFileAtomic(file, `${JSON.stringify(holder)}\n`, 0o644)
  } catch (e) {
    fs.closeSync(fd)
    throw e
  }
  let released = false
  return {
    file,
    holder,
    release: () => {
      if (released) return
      released = true
      try {
        fs.rmSync(file, { force: true })
        faultPoint('lock.releasing')
      } finally {
        fs.closeSync(fd) // the kernel lets go of the lock here
      }
    },
  }
}

/**
 * Removes a lock record left behind (a corrupt file, a holder that is gone). A lock that a live
 * process holds is not removed: the kernel would still give it to that process alone.
 */
export function forceUnlock(file: string): LockHolder | null {
  let holder: LockHolder | null = null
  try {
    holder = readLock(file)
  } catch {
    holder = null
  }
  if (lockHeld(file))
    throw new RefusedError(
      `Can't remove the deploy lock: a running process holds it${holder ? ` (${describeHolder(holder)})` : ''}. Nothing was changed.`,
      holder
        ? `Wait for it, or stop that deploy first (kill ${holder.pid}); its lock goes with it.`
        : `Find it with: fuser -v ${kernelLockFile(file)}`,
    )
  fs.rmSync(file, { force: true })
  return holder
}
