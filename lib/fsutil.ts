// Small file helpers with the guarantees the toolkit relies on.
import fs from 'node:fs'
import path from 'node:path'

/**
 * Writes a file so that readers see the old or the new content, never a part: temp, fsync, rename,
 * fsync dir. On any failure (a full disk: ENOSPC) the temp file is removed and the old file stays.
 */
export function writeFileAtomic(file: string, data: string, mode = 0o644): void {
  const dir = path.dirname(file)
  fs.mkdirSync(dir, { recursive: true })
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`)
  try {
    const fd = fs.openSync(tmp, 'w', mode)
    try {
      writeAll(fd, Buffer.from(data))
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(tmp, file)
  } catch (e) {
    fs.rmSync(tmp, { force: true })
    throw e
  }
  fsyncDir(dir)
}

/** write(2) may write less than asked (a disk that fills up): go on until all is written or it throws. */
export function writeAll(fd: number, buf: Buffer): void {
  for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off, buf.length - off)
}

export function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r')
    try {
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    // some filesystems refuse fsync on a directory; the rename is still atomic
  }
}

/** Is a process with this pid alive on this host? */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
