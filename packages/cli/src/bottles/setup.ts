import { join, posix } from "node:path";
import { createExclusive, prepareHostControls, type BackendContext, type BottleSpec, type Mount } from "@claude-bottle/core";
import { withAdditions } from "@claude-bottle/core/host";
import { quarantineBottleGit, quarantineReport, type GitWatch } from "./bottle-written-git.js";
import { identityEnv, type GitIdentity } from "./identity.js";
import { bottleDir, createBottleDir, removeBottleDir, type BottlePaths, type BottleRecord, type WorktreeRecord } from "./records.js";
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

/** A bottle about to start: its name, its spec with claude-bottle's additions, and what to do once an attached one has ended. */
export interface BottleSetup {
  name: string;
  spec: BottleSpec;
  worktree?: WorktreeRecord;
  /** Called when `start` returns, however: tidies what an attached (or never started) bottle leaves; a detached one keeps its directory. */
  finish(outcome: { detached: boolean }): Promise<void>;
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
export async function setUpBottle(spec: BottleSpec, backendName: string, ctx: BackendContext, options: BottleSetupOptions): Promise<BottleSetup> {
  const { name } = spec;
  let worktree: WorktreeRecord | undefined;
  if (options.worktree !== undefined) {
    const repository = await findRepository(spec.workspace);
    worktree = await createWorktree(ctx.env, repository, name, options.worktree === true ? name : options.worktree);
    ctx.logger.info(`worktree ${worktree.path} on the new branch ${worktree.branch}`);
  }
  try {
    const dir = bottleDir(ctx.env, backendName, name);
    const workspace = worktree?.path ?? spec.workspace;
    // The host controls as the backend lays them, made now: what only the user can change is never taken for the bottle's writing.
    const gitWatch: GitWatch = {
      roots: [...new Set(worktree ? [worktree.path, worktree.commonDir, worktree.gitDir] : [workspace])],
      controls: (await prepareHostControls(workspace)).map((control) => control.source),
    };
    const record: BottleRecord = {
      version: 1,
      name,
      backend: backendName,
      agent: spec.slug,
      pid: process.pid,
      createdAt: new Date().toISOString(),
      ...(worktree ? { worktree } : {}),
      gitWatch,
    };
    const paths: BottlePaths | undefined = dir ? await createBottleDir(dir, record) : undefined;
    if (paths) await createExclusive(join(paths.hooks, CLAUDE_SETTINGS_FILE), `${JSON.stringify(claudeCodeHookSettings(), null, 2)}\n`, 0o644);
    const identity = await options.identity;
    const settings = posix.join(HOOKS_TARGET, CLAUDE_SETTINGS_FILE);
    const mounts: Mount[] = [
      ...(worktree ? worktreeMounts(worktree) : []),
      ...(paths
        ? [
            { source: paths.status, target: STATUS_TARGET, readOnly: false },
            { source: paths.hooks, target: HOOKS_TARGET, readOnly: true },
          ]
        : []),
    ];
    const bottled = withAdditions(spec, {
      ...(worktree ? { workspace: worktree.path } : {}),
      mounts,
      env: identityEnv(identity, spec.env),
      args: options.builtinClaude && paths ? ["--settings", settings] : [],
    });
    return {
      name,
      spec: bottled,
      ...(worktree ? { worktree } : {}),
      async finish({ detached }) {
        if (detached) return;
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
