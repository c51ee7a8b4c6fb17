import { isProcessAlive, type BottleInfo } from "@claude-bottle/core";
import { bottleDir, bottlePaths, readRecord, recordedNames, removeBottleDir, type BottleRecord } from "./records.js";
import { bottleStatus, readReportedStatus, type BottleStatus } from "./status.js";

type Env = Readonly<Record<string, string | undefined>>;

/** A bottle as `ls --json` prints it: what the backend says, its status, and its worktree if it has one. */
export interface BottleView extends Omit<BottleInfo, "state"> {
  /** The backend's state; `removed` for a worktree bottle the backend no longer has, whose work `rm` is still to settle. */
  state: BottleInfo["state"] | "removed";
  status: BottleStatus;
  worktree?: { path: string; branch: string; repository: string };
}

/** What the CLI keeps about a bottle of `backend` called `name`, if anything. */
export async function recordOf(env: Env, backend: string, name: string): Promise<{ dir: string; record: BottleRecord | undefined } | undefined> {
  const dir = bottleDir(env, backend, name);
  return dir ? { dir, record: await readRecord(dir) } : undefined;
}

export async function viewOf(env: Env, backend: string, info: BottleInfo): Promise<BottleView> {
  const found = await recordOf(env, backend, info.name);
  const reported = found ? await readReportedStatus(bottlePaths(found.dir).status) : undefined;
  const worktree = found?.record?.worktree;
  return {
    ...info,
    status: bottleStatus(info, reported),
    ...(worktree ? { worktree: { path: worktree.path, branch: worktree.branch, repository: worktree.repository } } : {}),
  };
}

/**
 * Worktree bottles the backend no longer lists (an attached one whose CLI was
 * killed, then ended): their work is still in the worktree and on the branch,
 * so `ls` keeps showing them until `rm` settles it.
 */
export async function vanishedWorktreeBottles(env: Env, backend: string, listed: readonly BottleInfo[]): Promise<BottleView[]> {
  const present = new Set(listed.map((b) => b.name));
  const views: BottleView[] = [];
  for (const name of await recordedNames(env, backend)) {
    if (present.has(name)) continue;
    const record = (await recordOf(env, backend, name))?.record;
    const worktree = record?.worktree;
    if (!record || !worktree || isProcessAlive(record.pid)) continue;
    views.push({
      name,
      agent: record.agent,
      backend,
      state: "removed",
      workspace: worktree.path,
      created: record.createdAt,
      status: { state: "exited" },
      worktree: { path: worktree.path, branch: worktree.branch, repository: worktree.repository },
    });
  }
  return views;
}

/**
 * Forgets the bottles that are gone: a directory whose bottle the backend no
 * longer lists, made by a `start` that is no longer running (one still
 * running may not have created its bottle yet). Worktrees are never touched.
 */
export async function forgetVanished(env: Env, backend: string, listed: readonly BottleInfo[]): Promise<void> {
  const present = new Set(listed.map((b) => b.name));
  for (const name of await recordedNames(env, backend)) {
    if (present.has(name)) continue;
    const found = await recordOf(env, backend, name);
    if (!found) continue;
    // A worktree bottle's record says where its work is, for `rm`: kept until then.
    if (found.record?.worktree) continue;
    if (found.record && isProcessAlive(found.record.pid)) continue;
    await removeBottleDir(found.dir).catch(() => {});
  }
}
