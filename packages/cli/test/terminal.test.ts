import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createProject, type TestProject } from "./support/project.js";
import { CLI_BIN, runCli } from "./support/run-cli.js";
import { TmuxSession } from "./support/tmux.js";

/** Progress on a real terminal (tmux), through the fake backend. */
describe("progress on a terminal", () => {
  let project: TestProject;
  let terminal: TmuxSession | undefined;
  const file = (name: string) => join(project.dir, name);

  beforeAll(async () => {
    project = createProject();
    project.installFakeBackend();
    project.writeAgent("bb", "image: example/bb:1\n");
    const approved = await runCli(["--backend", "fake", "trust", "--yes"], { cwd: project.dir, env: project.env });
    expect(approved.code, approved.stderr).toBe(0);
  });

  afterEach(() => terminal?.kill());

  /** Runs the CLI in a terminal; its stdout goes to a file so the screen shows stderr alone. */
  const startInTerminal = (args: string, env: Record<string, string>, setup: string[] = []) => {
    for (const name of ["exit-code", "stdout"]) rmSync(file(name), { force: true });
    const script = file("in-terminal.sh");
    writeFileSync(
      script,
      [
        `cd ${project.dir}`,
        "unset CI",
        `export XDG_CONFIG_HOME=${project.configHome} XDG_CACHE_HOME=${project.cacheHome} XDG_STATE_HOME=${project.stateHome} XDG_DATA_HOME=${project.dataHome} CLAUDE_BOTTLE_BACKEND=fake`,
        ...Object.entries(env).map(([name, value]) => `export ${name}=${value}`),
        ...setup,
        `${process.execPath} ${CLI_BIN} ${args} > ${file("stdout")}`,
        `echo $? > ${file("exit-code")}`,
        "exec sleep 600",
      ].join("\n"),
    );
    terminal = new TmuxSession(`sh ${script}`, { columns: 100, rows: 30 });
    return terminal;
  };

  it("shows a spinner with the phase and its live detail, and clears it before the agent runs", async () => {
    const release = file("release");
    const screen = startInTerminal("start --timing bb", { FAKE_MODE: "slow-build", FAKE_RELEASE_FILE: release });
    const spinning = await screen.waitForScreen("the build phase's spinner", (text) =>
      text.includes("Building the fake image: pushing 1.5 MB/3.0 MB (50%)"),
    );
    expect(spinning).not.toContain("claude-bottle: Building");
    writeFileSync(release, "");
    await screen.waitForScreen("the CLI to exit", () => existsSync(file("exit-code")));
    expect(readFileSync(file("exit-code"), "utf8").trim()).toBe("0");
    const after = await screen.waitForScreen("the timing table", (text) => text.includes("ready after"));
    expect(after).toContain("fake agent stderr");
    expect(after).not.toContain("pushing");
    expect(after).toMatch(/build\s+\d/);
    expect(readFileSync(file("stdout"), "utf8")).toContain('"agent":"bb"');
  });

  it("prints plain lines instead when CI is set", async () => {
    const screen = startInTerminal("start bb", { CI: "true" });
    await screen.waitForScreen("the CLI to exit", () => existsSync(file("exit-code")));
    const text = await screen.waitForScreen("the output", (screen) => screen.includes("fake agent stderr"));
    expect(text).toContain("claude-bottle: Building the fake image...");
  });

  it("prints plain lines on a terminal that reports no size, where a spinner cannot redraw its line", async () => {
    // A pty nobody sized says 0×0; a spinner there once cleared "lines" forever.
    const screen = startInTerminal("start bb", {}, ["stty rows 0 cols 0"]);
    await screen.waitForScreen("the CLI to exit", () => existsSync(file("exit-code")));
    expect(readFileSync(file("exit-code"), "utf8").trim()).toBe("0");
    const text = await screen.waitForScreen("the output", (screen) => screen.includes("fake agent stderr"));
    expect(text).toContain("claude-bottle: Building the fake image...");
  });
});
