import { createReadStream } from "node:fs";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { openForAppend, replaceFile, type LogsOptions } from "@claude-bottle/core";
import type { HostGuard } from "./host-guard.js";
import { artifactCacheDir } from "./pipeline/artifact-cache.js";

/**
 * smolvm keeps no output of a command run through `machine exec`, so a
 * detached bottle's command writes to two files of ours, one per stream. Its
 * input is a FIFO that `attach` writes to, and its exit code lands in a file
 * when it ends.
 */
export function bottleLogPaths(cacheDir: string, name: string): { stdout: string; stderr: string; stdin: string; exit: string; guard: string } {
  const dir = join(artifactCacheDir(cacheDir), "logs");
  return {
    stdout: join(dir, `${name}.stdout.log`),
    stderr: join(dir, `${name}.stderr.log`),
    stdin: join(dir, `${name}.stdin`),
    exit: join(dir, `${name}.exit`),
    // What the bottle could change on the host (see guardHost), put back at stop and rm.
    guard: join(dir, `${name}.guard.json`),
  };
}

/** File descriptors to hand to the background process; close them once it has them. */
export async function openBottleLogs(cacheDir: string, name: string): Promise<{ stdout: number; stderr: number; close(): Promise<void> }> {
  const paths = bottleLogPaths(cacheDir, name);
  await mkdir(join(paths.stdout, ".."), { recursive: true });
  const stdout = await openForAppend(paths.stdout, 0o600);
  const stderr = await openForAppend(paths.stderr, 0o600);
  return {
    stdout: stdout.fd,
    stderr: stderr.fd,
    close: async () => {
      await stdout.close();
      await stderr.close();
    },
  };
}

/** Keeps what the guarded host files held when a detached bottle started (0600: a git config may hold a token). */
export async function saveGuard(cacheDir: string, name: string, guarded: HostGuard): Promise<void> {
  const { guard } = bottleLogPaths(cacheDir, name);
  await mkdir(join(guard, ".."), { recursive: true });
  await replaceFile(guard, JSON.stringify(guarded), 0o600);
}

/** What a detached bottle guarded, or nothing. */
export async function loadGuard(cacheDir: string, name: string): Promise<HostGuard> {
  const text = await readFile(bottleLogPaths(cacheDir, name).guard, "utf8").catch(() => undefined);
  const saved = text === undefined ? undefined : (JSON.parse(text) as HostGuard | HostGuard["files"]);
  // A bottle started before directories were guarded kept only its files, as an array.
  if (Array.isArray(saved)) return { files: saved, directories: [] };
  return saved ?? { files: [], directories: [] };
}

export async function removeBottleLogs(cacheDir: string, name: string): Promise<void> {
  const paths = bottleLogPaths(cacheDir, name);
  await Promise.all(Object.values(paths).map((path) => rm(path, { force: true })));
}

async function sizeOf(path: string): Promise<number> {
  return stat(path).then(
    (s) => s.size,
    () => 0,
  );
}

/** Copies bytes [from, to) of `path` into `out`. */
function copyRange(path: string, from: number, to: number, out: NodeJS.WritableStream): Promise<void> {
  if (to <= from) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const input = createReadStream(path, { start: from, end: to - 1 });
    input.on("error", reject);
    input.on("end", resolve);
    input.pipe(out, { end: false });
  });
}

const FOLLOW_POLL_MS = 250;

/**
 * Writes what the bottle's command has printed so far; with `follow`, keeps
 * writing what it prints until `stillRunning` says it has ended or `signal` fires.
 */
export async function writeBottleLogs(
  cacheDir: string,
  name: string,
  opts: LogsOptions,
  stillRunning: () => Promise<boolean>,
  signal: AbortSignal,
): Promise<void> {
  const follower = await followBottleLogs(cacheDir, name, opts.stdio, "start");
  await follower.drain();
  if (!opts.follow) return;
  while (!signal.aborted && (await stillRunning())) {
    await sleep(FOLLOW_POLL_MS, undefined, { signal }).catch(() => {});
    await follower.drain();
  }
  await follower.drain();
}

/** Copies what the bottle prints to `out`, from the beginning or from now, each time `drain` is called. */
export async function followBottleLogs(
  cacheDir: string,
  name: string,
  out: LogsOptions["stdio"],
  from: "start" | "end",
): Promise<{ drain(): Promise<void> }> {
  const paths = bottleLogPaths(cacheDir, name);
  const offsets = from === "start" ? { stdout: 0, stderr: 0 } : { stdout: await sizeOf(paths.stdout), stderr: await sizeOf(paths.stderr) };
  return {
    drain: async () => {
      for (const stream of ["stdout", "stderr"] as const) {
        const end = await sizeOf(paths[stream]);
        await copyRange(paths[stream], offsets[stream], end, out[stream]);
        offsets[stream] = end;
      }
    },
  };
}

export { FOLLOW_POLL_MS };
