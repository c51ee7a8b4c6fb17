import { randomBytes } from "node:crypto";
import { rename } from "node:fs/promises";
import { join, posix } from "node:path";
import { bottleName, createExclusive, prepareHostControls, type BackendContext, type ResolvedAgent } from "@claude-bottle/core";
import { quarantineBottleGit, quarantineReport, type GitWatch } from "./bottle-written-git.js";
import { identityEnv, type GitIdentity } from "./identity.js";
import { bottleDir, bottlePaths, createBottleDir, readRecord, removeBottleDir, writeRecord, type BottlePaths, type BottleRecord, type WorktreeRecord } from "./records.js";
import { CLAUDE_SETTINGS_FILE, HOOKS_TARGET, STATUS_TARGET, claudeCodeHookSettings } from "./status.js";
import { settleBranch } from "./branch.js";
import { createWorktree, findRepository, mergeCommand, removeWorktree, uncommittedChanges, worktreeMounts } from "./worktree.js";

export interface BottleSetupOptions {
  /** `--worktree`: `true` for a branch named after the bottle, or the branch's name. */
  worktree?: string | true;
  /** Whether the agent is the built-in `claude`, which gets the status hooks with `--settings`. */
  builtinClaude: boolean;
  /** The user's git identity (hostGitIdentity of the workspace), asked for early: git runs while the backend loads. */
  identity: Promise<GitIdentity>;
}

/** A bottle about to start: its name, the agent as it will run, and what to do once an attached one has ended. */
export interface BottleSetup {
  name: string;
  agent: ResolvedAgent;
  worktree?: WorktreeRecord;
  /**
   * Called when `start` returns, however: tidies what an attached (or never
   * started) bottle leaves; keeps a detached one's directory under the name
   * the backend gave it (one that ignores `LaunchOptions.name` picks its own).
   */
  finish(outcome: { detached: boolean; name?: string }): Promise<void>;
}

/**
 * What claude-bottle adds to every bottle before the backend sees it:
 * - with `--worktree`, a worktree of its own as the workspace, and the
 *   repository's git directory at the path the worktree names;
 * - a status directory of its own, read-write at /claude-bottle/status, and
 *   the hook settings read-only at /claude-bottle/hooks (the built-in
 *   `claude` is given them with `--settings`);
 * - the user's git identity as GIT_AUTHOR_* and GIT_COMMITTER_*.
 */
export async function setUpBottle(agent: ResolvedAgent, backendName: string, ctx: BackendContext, options: BottleSetupOptions): Promise<BottleSetup> {
  const name = bottleName(agent.slug, randomBytes(3).toString("hex"));
  let worktree: WorktreeRecord | undefined;
  if (options.worktree !== undefined) {
    const repository = await findRepository(agent.workspace);
    worktree = await createWorktree(ctx.env, repository, name, options.worktree === true ? name : options.worktree);
    ctx.logger.info(`worktree ${worktree.path} on the new branch ${worktree.branch}`);
  }
  try {
    const dir = bottleDir(ctx.env, backendName, name);
    const workspace = worktree?.path ?? agent.workspace;
    // The host controls as the backend lays them, made now: what only the user can change is never taken for the bottle's writing.
    const gitWatch: GitWatch = {
      roots: [...new Set(worktree ? [worktree.path, worktree.commonDir, worktree.gitDir] : [workspace])],
      controls: (await prepareHostControls(workspace)).map((control) => control.source),
    };
    const record: BottleRecord = {
      version: 1,
      name,
      backend: backendName,
      agent: agent.slug,
      pid: process.pid,
      createdAt: new Date().toISOString(),
      ...(worktree ? { worktree } : {}),
      gitWatch,
    };
    const paths: BottlePaths | undefined = dir ? await createBottleDir(dir, record) : undefined;
    if (paths) await createExclusive(join(paths.hooks, CLAUDE_SETTINGS_FILE), `${JSON.stringify(claudeCodeHookSettings(), null, 2)}\n`, 0o644);
    const identity = await options.identity;
    const settings = posix.join(HOOKS_TARGET, CLAUDE_SETTINGS_FILE);
    const bottled: ResolvedAgent = {
      ...agent,
      workspace,
      // A worktree is the same project: its bottles keep the project's home (a login made there is here too).
      homeProject: agent.homeProject ?? agent.workspace,
      mounts: [
        ...agent.mounts,
        ...(worktree ? worktreeMounts(worktree) : []),
        ...(paths
          ? [
              { source: paths.status, target: STATUS_TARGET, readOnly: false },
              { source: paths.hooks, target: HOOKS_TARGET, readOnly: true },
            ]
          : []),
      ],
      env: [...agent.env, ...identityEnv(identity, agent.env)],
      args: options.builtinClaude && paths ? ["--settings", settings, ...agent.args] : agent.args,
    };
    return {
      name,
      agent: bottled,
      ...(worktree ? { worktree } : {}),
      async finish({ detached, name: given }) {
        if (detached) {
          if (dir && given && given !== name) await renameBottleDir(dir, bottleDir(ctx.env, backendName, given), given).catch(() => {});
          return;
        }
        if (dir) await removeBottleDir(dir).catch(() => {});
        // The worktree first: its status must hold on the checkout exactly as the bottle left it.
        if (worktree) await settleWorktree(worktree, name, ctx);
        await quarantine(name, gitWatch, new Date(record.createdAt), ctx);
      },
    };
  } catch (error) {
    if (worktree) await settleWorktree(worktree, name, ctx).catch(() => {});
    throw error;
  }
}

/** Moves aside the git files a bottle that has ended wrote, and says so; a failure to look is said too, never fatal to the end. */
export async function quarantine(bottle: string, watch: GitWatch, since: Date, ctx: Pick<BackendContext, "logger">): Promise<void> {
  try {
    for (const line of quarantineReport(bottle, watch, await quarantineBottleGit(watch, since))) ctx.logger.warn(line);
  } catch (error) {
    ctx.logger.warn(`could not look for git files ${bottle} wrote in ${watch.roots.join(", ")} (${(error as Error).message}); check them before you run git there.`);
  }
}

/** Moves a bottle's directory to the name it ended up with; its mounts follow the directory. */
async function renameBottleDir(from: string, to: string | undefined, name: string): Promise<void> {
  if (!to) return;
  await removeBottleDir(to);
  await rename(from, to);
  const record = await readRecord(to);
  if (record) await writeRecord(bottlePaths(to), { ...record, name });
}

/**
 * After an attached bottle: its branch moved to its commits; a worktree with
 * uncommitted changes stays as it is; a clean one is removed, its branch kept. Either way the user is told
 * where the work is.
 */
export async function settleWorktree(worktree: WorktreeRecord, bottle: string, ctx: Pick<BackendContext, "logger">): Promise<void> {
  await settleBranch(worktree, bottle, ctx.logger);
  const changes = await uncommittedChanges(worktree).catch(() => ["?"]);
  if (changes.length > 0) {
    ctx.logger.info(`${bottle} left uncommitted changes in ${worktree.path} (branch ${worktree.branch}); they stay there.`);
  } else if (!(await removeWorktree(worktree))) {
    ctx.logger.warn(`could not remove the worktree ${worktree.path}; it stays.`);
  }
  ctx.logger.info(`The work of ${bottle} is on branch ${worktree.branch}. Merge it with: ${mergeCommand(worktree)}`);
}
