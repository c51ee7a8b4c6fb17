import { mkdir, readFile, readdir, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import type { GitWatch } from "./bottle-written-git.js";
import { replaceFile } from "@claude-bottle/core";

/**
 * $XDG_DATA_HOME/claude-bottle (default ~/.local/share/claude-bottle): the
 * user's worktrees and what the CLI keeps about each bottle. Not the state
 * directory: that one holds the approvals, and no bottle is ever given a
 * directory there (the hard limits refuse it), while a bottle's status
 * directory is mounted into it read-write.
 */
export function dataDir(env: Readonly<Record<string, string | undefined>>, home = homedir()): string {
  const base = env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : join(home, ".local", "share");
  return join(base, "claude-bottle");
}

/** A bottle started with `--worktree`: its checkout, its branch, the repository they belong to. */
export interface WorktreeRecord {
  /** The worktree's directory on the host (the bottle's /workspace). */
  path: string;
  branch: string;
  /** The repository's main checkout, where `git merge <branch>` is run. */
  repository: string;
  /** The worktree's own git directory (`.git/worktrees/<id>`) and the repository's shared one. */
  gitDir: string;
  commonDir: string;
  /** The commit the branch started from; absent in records made before it was kept. */
  base?: string;
}

/** What the CLI keeps about a bottle it started, beside (never inside) the directory the bottle writes its status to. */
export interface BottleRecord {
  version: 1;
  name: string;
  backend: string;
  agent: string;
  /** The `start` process, so a record whose bottle never came to be can be told from one being made. */
  pid: number;
  /** ISO 8601. */
  createdAt: string;
  worktree?: WorktreeRecord;
  /** Where its end is looked at for git files it wrote (by their times since createdAt). */
  gitWatch?: GitWatch;
}

/** Docker and smolvm names: a letter or digit, then letters, digits, `_`, `.`, `-`. Nothing else becomes a path. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function isRecordName(name: string): boolean {
  return NAME.test(name) && !name.includes("..");
}

/** `<data>/bottles/<backend>/<name>`: `bottle.json` (the CLI's), `status/` (the bottle's, mounted read-write), `hooks/` (mounted read-only). */
export function bottleDir(env: Readonly<Record<string, string | undefined>>, backend: string, name: string): string | undefined {
  if (!isRecordName(backend) || !isRecordName(name)) return undefined;
  return join(dataDir(env), "bottles", backend, name);
}

export interface BottlePaths {
  dir: string;
  record: string;
  status: string;
  hooks: string;
}

export function bottlePaths(dir: string): BottlePaths {
  return { dir, record: join(dir, "bottle.json"), status: join(dir, "status"), hooks: join(dir, "hooks") };
}

/** Makes a fresh directory for a bottle about to start (a leftover of the same name is replaced) and writes its record. */
export async function createBottleDir(dir: string, record: BottleRecord): Promise<BottlePaths> {
  const paths = bottlePaths(dir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(paths.status, { recursive: true, mode: 0o700 });
  await mkdir(paths.hooks, { recursive: true, mode: 0o700 });
  await writeRecord(paths, record);
  return paths;
}

/** Replaced whole, through a temporary created exclusively: a link planted at either name is never written through. */
export async function writeRecord(paths: BottlePaths, record: BottleRecord): Promise<void> {
  await replaceFile(paths.record, `${JSON.stringify(record, null, 2)}\n`, 0o600);
}

export async function readRecord(dir: string): Promise<BottleRecord | undefined> {
  const text = await readFile(bottlePaths(dir).record, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const record = JSON.parse(text) as BottleRecord;
    return record.version === 1 ? record : undefined;
  } catch {
    return undefined;
  }
}

export async function removeBottleDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** The names of the bottles of `backend` that have a directory. */
export async function recordedNames(env: Readonly<Record<string, string | undefined>>, backend: string): Promise<string[]> {
  if (!isRecordName(backend)) return [];
  const entries = await readdir(join(dataDir(env), "bottles", backend), { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && isRecordName(e.name)).map((e) => e.name);
}
