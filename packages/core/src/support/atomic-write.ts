import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { createExclusive } from "./no-follow.js";
import { isProcessAlive } from "./process.js";

/**
 * Writes `file` beside itself and renames it over, so a crash never leaves
 * half a file; `mode` from the first byte. The temporary file is named after
 * this process: what a writer killed before its rename left (a copy of the
 * file, credentials included) is removed by the next write, once its pid is
 * gone.
 */
export async function writeFileAtomically(file: string, text: string, mode: number): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await removeLeftTemporaries(file);
  const temporary = `${file}.${process.pid}.tmp`;
  // One of this pid's own, left by an earlier process with the same pid: created afresh, never written through.
  await rm(temporary, { force: true });
  await createExclusive(temporary, text, mode);
  await rename(temporary, file);
}

async function removeLeftTemporaries(file: string): Promise<void> {
  const pattern = new RegExp(`^${basename(file).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.(\\d+)\\.tmp$`);
  for (const entry of await readdir(dirname(file)).catch(() => [])) {
    const pid = Number(pattern.exec(entry)?.[1]);
    if (pid && pid !== process.pid && !isProcessAlive(pid)) await rm(join(dirname(file), entry), { force: true });
  }
}
