import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { BottleError, ErrorCodes } from "@claude-bottle/core";
import type { HostUser } from "../container/create-options.js";
import { underFillTarget } from "./carried-volumes.js";
import type { Manifest } from "./workspace-files.js";
import { gitWorkspaceEntries, isGitTop, manifestOf, plainWorkspaceEntries, type WorkspaceEntry } from "./workspace-files.js";

/** What went into a remote bottle's workspace, for telling later what the bottle changed and bringing it back. */
export interface CarriedRecord {
  workspace: string;
  /** `git`: the bottle's commits come back to `branch`; `plain`: only changed files come back. */
  kind: "git" | "plain";
  /** Named after the bottle; never a branch the user had. */
  branch?: string;
  /** The commit the bottle started from. */
  base?: string;
  manifest: Manifest;
}

const run = promisify(execFile);

/** A workspace ready to go into a volume: the archive, and the record of what is in it. */
export interface CarriedWorkspace {
  archive: Buffer;
  record: CarriedRecord;
  files: number;
}

/**
 * The workspace as the remote bottle gets it. A repository: a new repository
 * with the whole history up to HEAD, on a branch named after the bottle, and
 * the work tree as it is on the disk (the uncommitted changes stay
 * uncommitted there, as they are here). Any other directory: its files.
 */
export async function carryWorkspace(workspace: string, bottle: string, user: HostUser | undefined): Promise<CarriedWorkspace> {
  const git = await isGitTop(workspace);
  const entries = git ? await gitWorkspaceEntries(workspace) : await plainWorkspaceEntries(workspace);
  const record: CarriedRecord = { workspace, kind: git ? "git" : "plain", manifest: manifestOf(entries) };
  if (!git) return { archive: await packEntries(entries, user), record, files: entries.length };
  const { base, gitEntries } = await cloneForBottle(workspace, bottle);
  return {
    archive: await packEntries([...gitEntries, ...entries], user),
    record: { ...record, branch: bottle, base },
    files: entries.length,
  };
}

/** The bottle's own repository: HEAD's history, on the bottle's branch, its index at HEAD. */
async function cloneForBottle(workspace: string, branch: string): Promise<{ base: string; gitEntries: WorkspaceEntry[] }> {
  const git = (cwd: string, ...args: string[]) => run("git", ["-C", cwd, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const base = await git(workspace, "rev-parse", "--verify", "HEAD^{commit}").then(
    (r) => r.stdout.trim(),
    (error: unknown) => {
      throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `The repository at ${workspace} has no commit yet, so there is nothing to branch from.`, {
        hint: "Make a first commit, or start the bottle in a directory that is not a repository.",
        cause: error,
      });
    },
  );
  const existing = await git(workspace, "rev-parse", "--verify", "--quiet", `refs/heads/${branch}`).then(
    () => true,
    () => false,
  );
  if (existing) {
    // The bottle's commits must never land on a branch the user already has.
    throw new BottleError(ErrorCodes.NAME_CONFLICT, `The branch ${branch} already exists in ${workspace}.`, {
      hint: "Give the bottle another name (--name), or rename that branch.",
    });
  }
  const dir = await mkdtemp(join(tmpdir(), "claude-bottle-carry-"));
  try {
    await git(dir, "init", "-q", "--template=");
    await git(dir, "fetch", "-q", "--no-tags", workspace, base);
    await git(dir, "update-ref", `refs/heads/${branch}`, base);
    await git(dir, "symbolic-ref", "HEAD", `refs/heads/${branch}`);
    await git(dir, "read-tree", base);
    const gitEntries = (await plainWorkspaceEntries(join(dir, ".git"))).map((e) => ({ ...e, path: `.git/${e.path}` }));
    return { base, gitEntries };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A tar of the entries under `carried/`, with every directory given to the
 * bottle's user (the engine would make missing ones root's) and the volume's
 * top too, so the agent can write anywhere in its workspace.
 */
export async function packEntries(entries: readonly WorkspaceEntry[], user: HostUser | undefined): Promise<Buffer> {
  const { pack } = await import("tar-stream");
  const owner = { uid: user?.uid ?? 0, gid: user?.gid ?? 0 };
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on("data", (chunk: unknown) => void chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    tar.on("end", resolve);
    tar.on("error", reject);
  });
  const directories = new Set<string>([""]);
  for (const entry of entries) {
    const parts = entry.path.split("/");
    for (let i = 1; i < parts.length; i++) directories.add(parts.slice(0, i).join("/"));
  }
  for (const dir of [...directories].sort()) tar.entry({ name: underFillTarget(dir), type: "directory", mode: 0o755, ...owner });
  for (const entry of entries) {
    if (entry.kind === "file") tar.entry({ name: underFillTarget(entry.path), type: "file", mode: entry.mode, ...owner }, entry.content);
    else tar.entry({ name: underFillTarget(entry.path), type: "symlink", linkname: entry.target, mode: 0o777, ...owner });
  }
  tar.finalize();
  await ended;
  return Buffer.concat(chunks);
}
