import { watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { BottleError, ErrorCodes, type BottleInfo } from "@claude-bottle/core";
import { requireCapability } from "@claude-bottle/core/host";
import { changedFiles } from "../bottles/changes.js";
import { bottlePaths, dataDir } from "../bottles/records.js";
import type { StatusState } from "../bottles/status.js";
import { recordOf, vanishedWorktreeBottles, viewOf, type BottleView } from "../bottles/view.js";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { notifyDesktop } from "../render/desktop-notification.js";
import { formatTable } from "../render/table.js";
import { loadSelectedBackend } from "../select-backend.js";
import { statusCell } from "./ls.js";

/** Ages and the backend's states change without a file changing: the table is drawn again this often anyway. */
const REDRAW_MS = 2000;
/** A burst of writes (a hook's temporary file, then its rename) is one change. */
const SETTLE_MS = 100;

/**
 * `ls --watch`: the bottles as a live table on the terminal, drawn again
 * when a bottle's status file changes (and every REDRAW_MS): status and
 * since when, branch, and what its worktree changes. A bottle that turns
 * `waiting` rings the terminal's bell and raises a desktop notification
 * where there is a desktop. Ends on Ctrl-C, leaving the terminal as it was.
 */
export async function lsWatch(environment: CommandEnvironment): Promise<number> {
  if (!process.stdout.isTTY) {
    throw new BottleError(ErrorCodes.INVALID_ARGUMENT, "ls --watch draws on a terminal, and stdout is not one.", {
      hint: "For scripts: claude-bottle ls --json, or claude-bottle wait <bottle> --for waiting.",
    });
  }
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    const list = requireCapability(backend, "list");
    const { env, signal } = session.context;
    const bottlesDir = join(dataDir(env), "bottles", backend.name);
    const watchers = new Map<string, FSWatcher>();
    const seen = new Map<string, StatusState>();
    let first = true;
    let timer: NodeJS.Timeout | undefined;
    let drawing = Promise.resolve();

    const schedule = (delay: number) => {
      if (signal.aborted) return;
      clearTimeout(timer);
      timer = setTimeout(() => (drawing = drawing.then(draw, draw)), delay);
    };
    /** Watches the bottles' directory (a bottle made or gone) and each bottle's status directory (its reports). */
    const follow = (dirs: readonly string[]) => {
      for (const [dir, watcher] of watchers) {
        if (!dirs.includes(dir)) {
          watcher.close();
          watchers.delete(dir);
        }
      }
      for (const dir of dirs) {
        if (watchers.has(dir)) continue;
        try {
          const watcher = watch(dir, () => schedule(SETTLE_MS));
          watcher.on("error", () => watchers.delete(dir));
          watchers.set(dir, watcher);
        } catch {
          // Not made yet (no bottle so far): the redraw looks again.
        }
      }
    };
    const draw = async () => {
      if (signal.aborted) return;
      const bottles = await list(session.context).catch(() => [] as BottleInfo[]);
      const views = [...(await Promise.all(bottles.map((b) => viewOf(env, backend.name, b)))), ...(await vanishedWorktreeBottles(env, backend.name, bottles))];
      const changes = await Promise.all(views.map((view) => changeCell(env, backend.name, view)));
      follow([bottlesDir, ...views.map((view) => bottlePaths(join(bottlesDir, view.name)).status)]);
      const turned = views.filter((view) => view.status.state === "waiting" && seen.get(view.name) !== "waiting" && !first);
      seen.clear();
      for (const view of views) seen.set(view.name, view.status.state);
      first = false;
      if (signal.aborted) return;
      process.stdout.write(`\x1b[H${frame(views, changes, backend.name)}\x1b[J${turned.length > 0 ? "\x07" : ""}`);
      for (const view of turned) void notifyDesktop("claude-bottle", `${view.name} is waiting for you${view.worktree ? ` (${view.worktree.branch})` : ""}`, env);
      schedule(REDRAW_MS);
    };

    // The alternate screen, as `top` and `less` use: what was on the terminal is back when the view ends.
    process.stdout.write("\x1b[?1049h\x1b[?25l");
    try {
      await draw();
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    } finally {
      clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      await drawing.catch(() => {});
      process.stdout.write("\x1b[?25h\x1b[?1049l");
    }
    return ExitCodes.OK;
  });
}

/** `3 files +12 -4` for a worktree bottle, `-` for one without; `?` when git cannot read it just now. */
async function changeCell(env: Readonly<Record<string, string | undefined>>, backend: string, view: BottleView): Promise<string> {
  const worktree = (await recordOf(env, backend, view.name))?.record?.worktree;
  if (!worktree) return "-";
  try {
    const files = await changedFiles(worktree);
    const sum = (key: "added" | "deleted") => files.reduce((total, file) => total + (file[key] ?? 0), 0);
    return files.length === 0 ? "no changes" : `${files.length} file${files.length === 1 ? "" : "s"} +${sum("added")} -${sum("deleted")}`;
  } catch {
    return "?";
  }
}

/** One screen: the table cut to the terminal's width, each line cleared to its end, and what the view is. */
function frame(views: readonly BottleView[], changes: readonly string[], backend: string): string {
  const columns = process.stdout.columns || 80;
  const table = views.length
    ? formatTable(
        ["NAME", "STATUS", "BRANCH", "CHANGES", "STATE"],
        views.map((view, i) => [view.name, statusCell(view), view.worktree?.branch ?? "-", changes[i]!, view.degraded ? "degraded" : view.state]),
      )
    : "No bottles.\n";
  const footer = `${backend} · ${new Date().toLocaleTimeString()} · Ctrl-C to quit`;
  return [...table.trimEnd().split("\n"), "", footer].map((line) => `${line.slice(0, columns)}\x1b[K`).join("\r\n");
}
