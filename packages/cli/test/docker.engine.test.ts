import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { busyboxContext } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containersLabelled, containersRunning, docker, removeAgentTraces, removeHomesOf, requireDocker } from "./support/docker.js";
import { createProject, type TestProject } from "./support/project.js";
import { CLI_BIN, runCli, startCli, waitFor } from "./support/run-cli.js";
import { TmuxSession } from "./support/tmux.js";

/** The whole CLI against the real engine with the default (docker) backend. */
describe("claude-bottle on Docker", () => {
  let project: TestProject;
  const bottles = new Set<string>();
  const run = (args: string[], env: Record<string, string> = {}, input?: string) =>
    runCli(args, { cwd: project.dir, env: { ...project.env, ...env }, input });

  const agentYaml = (contextDir: string, lines: string[]) =>
    [`build: { dockerfile: ${join(contextDir, "Dockerfile")}, context: ${contextDir} }`, ...lines, ""].join("\n");

  beforeAll(async () => {
    requireDocker();
    project = createProject();
    const context = busyboxContext();
    // User-level agents: these tests are about running bottles, not about approving project files.
    project.writeUserAgent("bb", agentYaml(context, ["command: [sh, -c]", "env: [CB_SECRET]", "network: false"]));
    project.writeUserAgent("bbsh", agentYaml(context, ["command: [sh]", "network: false"]));
  });

  /** Agents the tests started: their images and home volumes go at the end. */
  const slugs = new Set(["bb", "bbsh"]);

  afterAll(() => {
    removeHomesOf(project.dir);
    for (const name of bottles) {
      try {
        docker("rm", "-f", name);
      } catch {
        // Removed by the test itself.
      }
    }
    removeAgentTraces(slugs);
  });

  it("runs an agent without a terminal: exit code, stdout and stderr apart, stdin piped", async () => {
    const result = await run(["start", "bb", "--", "echo to-stdout; echo to-stderr >&2; exit 3"]);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe("to-stdout\n");
    expect(result.stderr).toContain("to-stderr\n");
    const piped = await run(["start", "bb", "--", "cat"], {}, "piped input\n");
    expect(piped).toMatchObject({ code: 0, stdout: "piped input\n" });
  });

  it("attached through a real terminal: typed input, output, resize, exit code, terminal restored", async () => {
    const script = join(project.dir, "attached.sh");
    const file = (name: string) => join(project.dir, name);
    writeFileSync(
      script,
      [
        `cd ${project.dir}`,
        `export XDG_CONFIG_HOME=${project.configHome} XDG_CACHE_HOME=${project.cacheHome} XDG_STATE_HOME=${project.stateHome} XDG_DATA_HOME=${project.dataHome}`,
        `stty -g > ${file("stty-before")}`,
        `${process.execPath} ${CLI_BIN} start bbsh`,
        `echo $? > ${file("exit-code")}`,
        `stty -g > ${file("stty-after")}`,
        // Keeps the pane, and so the terminal, alive until the test has read it.
        "exec sleep 600",
      ].join("\n"),
    );
    const terminal = new TmuxSession(`sh ${script}`, { columns: 80, rows: 24 });
    try {
      await terminal.waitForScreen("the agent's shell prompt", (screen) => screen.includes("/workspace #"));
      terminal.type("echo typed-$((6*7))");
      await terminal.waitForScreen("the agent to answer typed input", (screen) => screen.includes("typed-42"));
      terminal.resize(100, 30);
      // The new size reaches the bottle through the engine's API while the keys go through the
      // attach stream, so the first `stty size` may still run at the old size: ask again until it shows.
      await waitFor("the agent to see the new size", async () => {
        terminal.type("stty size");
        return terminal.waitForScreen("stty size", (screen) => /^30 100$/m.test(screen), 2000).catch(() => false);
      });
      terminal.type("exit 7");
      await terminal.waitForScreen("the CLI to exit", () => existsSync(file("stty-after")));
      expect(readFileSync(file("exit-code"), "utf8").trim()).toBe("7");
      expect(readFileSync(file("stty-after"), "utf8")).toBe(readFileSync(file("stty-before"), "utf8"));
    } finally {
      terminal.kill();
    }
  });

  it("closing the terminal under an attached agent stops and removes its bottle", async () => {
    const slug = `hangup-${randomBytes(3).toString("hex")}`;
    slugs.add(slug);
    project.writeUserAgent(slug, agentYaml(busyboxContext(), ["command: [sh]", "network: false"]));
    const script = join(project.dir, "hangup.sh");
    writeFileSync(
      script,
      [
        `cd ${project.dir}`,
        `export XDG_CONFIG_HOME=${project.configHome} XDG_CACHE_HOME=${project.cacheHome} XDG_STATE_HOME=${project.stateHome} XDG_DATA_HOME=${project.dataHome}`,
        // exec: the CLI leads the terminal's session, so the terminal closing hangs it up directly.
        `exec ${process.execPath} ${CLI_BIN} start ${slug}`,
      ].join("\n"),
    );
    const terminal = new TmuxSession(`sh ${script}`, { columns: 80, rows: 24 });
    try {
      await terminal.waitForScreen("the agent's shell prompt", (screen) => screen.includes("/workspace #"));
      expect(containersLabelled(`dev.claude-bottle.agent=${slug}`)).toHaveLength(1);
    } finally {
      terminal.kill();
    }
    await waitFor("the bottle to be removed", () => containersLabelled(`dev.claude-bottle.agent=${slug}`).length === 0);
  });

  it("passes a secret by name: visible inside, absent from what the CLI printed and from the labels", async () => {
    const secret = `s3cr3t-${randomBytes(8).toString("hex")}`;
    const env = { CB_SECRET: secret };
    const attached = await run(["--debug", "start", "--timing", "bb", "--", 'test "${#CB_SECRET}" -gt 0 && echo secret-is-set'], env);
    expect(attached).toMatchObject({ code: 0, stdout: "secret-is-set\n" });

    const detached = await run(["--debug", "start", "--detach", "bb", "--", 'printf %s "$CB_SECRET" > /workspace/secret.txt; exec sleep 600'], env);
    expect(detached.code).toBe(0);
    const name = detached.stdout.trim();
    bottles.add(name);
    await waitFor("the secret file", () => existsSync(join(project.dir, "secret.txt")));
    expect(readFileSync(join(project.dir, "secret.txt"), "utf8")).toBe(secret);

    const listed = await run(["--debug", "ls", "--json"], env);
    const logs = await run(["--debug", "logs", name], env);
    for (const output of [attached, detached, listed, logs]) {
      expect(output.stdout + output.stderr).not.toContain(secret);
    }
    const labels = docker("inspect", "--format", "{{json .Config.Labels}}", name);
    expect(labels).toContain("dev.claude-bottle");
    expect(labels).not.toContain(secret);
    await run(["rm", "--force", name]);
  });

  it("on Ctrl-C during a slow build exits 130 and leaves no container behind", async () => {
    const marker = `cb-interrupt-${randomBytes(6).toString("hex")}`;
    // A slug of its own, so no other test's bottle can be mistaken for a leftover of this one.
    const slug = `slow-${randomBytes(3).toString("hex")}`;
    slugs.add(slug);
    project.writeUserAgent(slug, agentYaml(busyboxContext(`RUN sleep 30 # ${marker}`), ["command: [sh]", "network: false"]));
    // --debug shows the build's output, where the engine names the step's container.
    const cli = startCli(["--debug", "start", slug], { cwd: project.dir, env: project.env });
    const explain = () => `\nCLI stderr:\n${cli.stderr()}\ncontainers:\n${docker("ps", "-a", "--no-trunc")}`;
    try {
      await waitFor("the build to run the slow step", () => containersRunning(marker).length > 0 && / ---> Running in /.test(cli.stderr()));
      cli.child.kill("SIGINT");
      const result = await cli.result;
      expect(result.code).toBe(130);
      expect(result.stderr).not.toContain("internal error");
      // The engine removes a cancelled build's container on its own schedule.
      await waitFor("the build container to go", () => containersRunning(marker).length === 0);
      expect(containersLabelled(`dev.claude-bottle.agent=${slug}`)).toEqual([]);
    } catch (error) {
      throw new Error(`${(error as Error).message}${explain()}`, { cause: error });
    }
  });

  it("detach, ls, logs, exec, stop and rm through the CLI", async () => {
    const started = await run(["start", "--detach", "bb", "--", "echo started-marker; exec sleep 600"]);
    expect(started.code).toBe(0);
    const name = started.stdout.trim();
    bottles.add(name);
    expect(name).toMatch(/^claude-bottle-bb-[0-9a-f]{6}$/);

    const listed = await run(["ls", "--json"]);
    expect(listed.code).toBe(0);
    const mine = (JSON.parse(listed.stdout) as { name: string }[]).find((b) => b.name === name);
    expect(mine).toMatchObject({ name, agent: "bb", backend: "docker", state: "running", workspace: project.dir });
    expect(Date.parse((mine as unknown as { created: string }).created)).not.toBeNaN();

    await waitFor("the bottle's first output", async () => (await run(["logs", name])).stdout.includes("started-marker"));

    const executed = await run(["exec", name, "--", "sh", "-c", "echo from-exec; exit 5"]);
    expect(executed).toMatchObject({ code: 5, stdout: "from-exec\n" });

    expect((await run(["stop", name])).code).toBe(0);
    const stopped = JSON.parse((await run(["ls", "--json"])).stdout) as { name: string; state: string }[];
    expect(stopped.find((b) => b.name === name)?.state).toBe("stopped");

    expect((await run(["rm", name])).code).toBe(0);
    const after = JSON.parse((await run(["ls", "--json"])).stdout) as { name: string }[];
    expect(after.map((b) => b.name)).not.toContain(name);

    const again = await run(["rm", name]);
    expect(again.code).toBe(125);
    expect(again.stderr).toContain(`claude-bottle: There is no bottle called ${name}`);
  });

  it("rm --force removes a running bottle", async () => {
    const name = (await run(["start", "--detach", "bb", "--", "exec sleep 600"])).stdout.trim();
    bottles.add(name);
    const refused = await run(["rm", name]);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(new RegExp(`^claude-bottle: The bottle ${name} is running.*\n  hint: .*--force`, "m"));
    expect((await run(["rm", "-f", name])).code).toBe(0);
    expect(containersLabelled("dev.claude-bottle").filter((n) => n === name)).toEqual([]);
  });

  it("doctor passes where the engine answers", async () => {
    const result = await run(["doctor", "--json"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ backend: "docker" });
  });
});
