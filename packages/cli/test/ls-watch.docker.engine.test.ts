import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { busyboxGitContext } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeAgentTraces, removeHomesOf, requireDocker } from "./support/docker.js";
import { cliFor, initRepository } from "./support/parallel.js";
import { createProject, type TestProject } from "./support/project.js";
import { CLI_BIN, waitFor } from "./support/run-cli.js";
import { TmuxSession } from "./support/tmux.js";

/**
 * `ls --watch` on a real terminal (tmux) over a real worktree bottle: the
 * screen changes when the bottle reports `waiting` through its status file, and
 * the bell is rung then (and not for the first screen).
 */
describe("ls --watch (docker)", () => {
  let project: TestProject;
  let cli: ReturnType<typeof cliFor>;
  let bottle = "";
  let cleanContext = () => {};
  const slug = `watch-${randomBytes(3).toString("hex")}`;

  beforeAll(() => {
    requireDocker();
    project = createProject();
    initRepository(project.dir);
    const context = busyboxGitContext();
    project.writeUserAgent(slug, `build: { dockerfile: ${join(context, "Dockerfile")}, context: ${context} }\ncommand: [sh, -c]\nnetwork: false\n`);
    cleanContext = () => rmSync(context, { recursive: true, force: true });
    cli = cliFor(project, { CLAUDE_BOTTLE_BACKEND: "docker" });
  });

  afterAll(async () => {
    if (bottle) await cli.run(["rm", "--force", bottle]);
    removeHomesOf(project.dir);
    removeAgentTraces([slug]);
    rmSync(dirname(project.dir), { recursive: true, force: true });
    cleanContext();
  });

  it("redraws when the bottle's status file changes, and rings the bell when it turns waiting", async () => {
    // The bottle reports as Claude Code's hooks do, once the test says so: a file written beside, renamed into place.
    const report = (state: string) => `printf '%s\\n' ${state} > /claude-bottle/status/.state.$$ && mv -f /claude-bottle/status/.state.$$ /claude-bottle/status/state`;
    bottle = await cli.detach([
      "--worktree", "watched", slug, "--",
      `cd /workspace && printf 'a\\nb\\n' > notes.txt && ${report("working")} && while [ ! -f /workspace/go ]; do sleep 0.2; done && ${report("waiting")} && exec sleep 600`,
    ]);
    const script = join(dirname(project.dir), "watch.sh");
    writeFileSync(
      script,
      [
        `cd ${project.dir}`,
        `export XDG_CONFIG_HOME=${project.configHome} XDG_CACHE_HOME=${project.cacheHome} XDG_STATE_HOME=${project.stateHome} XDG_DATA_HOME=${project.dataHome} CLAUDE_BOTTLE_BACKEND=docker`,
        // No desktop: the notification degrades to nothing, the bell stays.
        "unset DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS",
        `exec ${process.execPath} ${CLI_BIN} ls --watch`,
      ].join("\n"),
    );
    const output = join(dirname(project.dir), "watch.out");
    writeFileSync(output, "");
    const terminal = new TmuxSession(`sh ${script}`, { columns: 160, rows: 20 });
    try {
      terminal.record(output);
      const first = await terminal.waitForScreen("the bottle working", (screen) => screen.includes(bottle) && /working \(/.test(screen));
      expect(first).toMatch(new RegExp(`${bottle}\\s+working \\([^)]+\\)\\s+watched\\s+1 file \\+2 -0\\s+running`));
      expect(first).toContain("docker · ");
      expect(readFileSync(output, "latin1")).not.toContain("\x07");

      writeFileSync(join((await cli.bottle(bottle))!.worktree!.path, "go"), "");
      const state = join(project.dataHome, "claude-bottle", "bottles", "docker", bottle, "status", "state");
      await waitFor("the bottle's report", () => readFileSync(state, "utf8") === "waiting\n", 15_000);
      const reported = Date.now();
      const waiting = await terminal.waitForScreen("the bottle waiting", (screen) => /waiting \(/.test(screen), 15_000);
      // Drawn on the file's change, well before the redraw every 2 s would have come to it.
      expect(Date.now() - reported).toBeLessThan(1200);
      // The worktree's new file counts too: the view reads the changes again with the status.
      expect(waiting).toMatch(new RegExp(`${bottle}\\s+waiting \\(just now\\)\\s+watched\\s+2 files \\+2 -0`));
      await waitFor("the bell", () => readFileSync(output, "latin1").includes("\x07"), 5_000);
      expect(readFileSync(output, "latin1").split("\x07")).toHaveLength(2);

      // Ctrl-C ends it and gives the terminal back: the alternate screen is left.
      terminal.press("C-c");
      await waitFor("the view to leave the alternate screen", () => readFileSync(output, "latin1").includes("\x1b[?1049l"), 10_000);
    } finally {
      terminal.kill();
    }
  });
});
