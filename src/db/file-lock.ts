import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Whether a process runs. A zombie (dead, not yet reaped: in a container whose init does not
 * reap, a killed postmaster stays one) still answers kill(0), so on Linux its state is read.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no procfs: kill(0) is all there is
  }
}

/**
 * An exclusive lock file holding the holder's pid. A lock whose holder died (kill -9) is
 * taken over, so a crash never leaves the data directory locked.
 */
export async function acquireFileLock(file: string, timeoutMs = 60_000): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fs.writeFile(file, String(process.pid), { flag: 'wx' });
      return () => fs.rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number.parseInt(await fs.readFile(file, 'utf8').catch(() => ''), 10);
    // An empty file is a holder between creating and writing it, unless it has been empty for long.
    const abandoned = Number.isInteger(holder) ? !isProcessAlive(holder) : await olderThan(file, 5_000);
    if (abandoned) {
      await fs.rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${file} (held by pid ${holder})`);
    await sleep(100);
  }
}

async function olderThan(file: string, ms: number): Promise<boolean> {
  const stat = await fs.stat(file).catch(() => undefined);
  return stat === undefined || Date.now() - stat.mtimeMs > ms;
}
