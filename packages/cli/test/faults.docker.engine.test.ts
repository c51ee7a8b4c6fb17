import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buildTestNodeImage, busyboxGitContext } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker, removeAgentTraces, removeHomesOf, requireDocker } from "./support/docker.js";
import { cliFor, hostGit, initRepository } from "./support/parallel.js";
import { createProject, type TestProject } from "./support/project.js";
import { CLI_BIN, waitFor } from "./support/run-cli.js";

/**
 * SECURITY.md point 7 on Docker: the CLI killed with SIGKILL as each phase of
 * `start` begins (the lines CI=true prints as a phase starts), then one `ls`,
 * must leave no container, network, volume but the project's home, agent tag
 * of a build that did not finish, egress file or bottle record of that start.
 */
describe("SIGKILL at every phase (docker)", () => {
  let project: TestProject;
  let cli: ReturnType<typeof cliFor>;
  const id = randomBytes(3).toString("hex");
  const warm = `fw-${id}`;
  const cold = `fc-${id}`;
  let context = "";
  let coldContext = "";

  beforeAll(async () => {
    requireDocker();
    project = createProject();
    initRepository(project.dir);
    context = busyboxGitContext();
    // The cold agent's build has a slow step, and a context that changes before each start: every start of it builds.
    docker("build", "-q", "-t", `claude-bottle-test/faults-${id}:base`, context);
    coldContext = mkdtempSync(join(tmpdir(), "claude-bottle-faults-"));
    project.writeUserAgent(cold, `build: { dockerfile: ${join(coldContext, "Dockerfile")}, context: ${coldContext} }\ncommand: [sh, -c]\nnetwork: { allow: [example.com] }\n`);
    project.writeUserAgent(warm, `build: { dockerfile: ${join(context, "Dockerfile")}, context: ${context} }\ncommand: [sh, -c]\nnetwork: { allow: [example.com] }\n`);
    cli = cliFor(project, { CI: "true", CLAUDE_BOTTLE_BACKEND: "docker", CLAUDE_BOTTLE_PROXY_IMAGE: buildTestNodeImage() });
    // One warm start: every phase below but the build runs on the image it leaves.
    const first = await cli.run(["start", warm, "--", "true"]);
    expect(first.code, first.stderr).toBe(0);
    await egressRemoved(warm);
  });

  afterAll(async () => {
    for (const bottle of await cli.ls().catch(() => [])) await cli.run(["rm", "--force", bottle.name]);
    removeHomesOf(project.dir);
    removeAgentTraces([warm, cold]);
    try {
      docker("rmi", "-f", `claude-bottle-test/faults-${id}:base`);
    } catch {
      // Never built.
    }
    rmSync(context, { recursive: true, force: true });
    rmSync(coldContext, { recursive: true, force: true });
    rmSync(dirname(project.dir), { recursive: true, force: true });
  });

  /**
   * Starts the CLI with its stdin open (the agent reads it, as an attached
   * agent reads the terminal), SIGKILLs it once `line` is printed and `also`
   * holds (a phase that prints no line of its own is told by the engine).
   */
  async function killAt(args: string[], line: RegExp, also: () => boolean = () => true): Promise<string> {
    const child = spawn(process.execPath, [CLI_BIN, ...args], { cwd: project.dir, env: { ...process.env, ...cli.env }, stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    await waitFor(`${line} in the output of ${args.join(" ")}`, () => (line.test(stderr + stdout) && also()) || child.exitCode !== null, 120_000);
    child.kill("SIGKILL");
    await closed;
    expect(child.signalCode, stderr).toBe("SIGKILL");
    return stderr;
  }

  /** A start that ran to its end removes its egress from a process of its own, after it returns: waited for, as the user does not. */
  const egressRemoved = (slug: string) =>
    waitFor(
      `the egress of ${slug} to be removed`,
      () => docker("network", "ls", "-q", "--filter", `name=claude-bottle-${slug}-`).trim() === "" && !egressFiles(slug).length,
      20_000,
    );

  const egressFiles = (slug: string) => {
    const dir = join(project.cacheHome, "claude-bottle", "docker", "egress");
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(`claude-bottle-${slug}-`)) : [];
  };

  const running = (slug: string) => docker("ps", "-q", "--filter", `name=claude-bottle-${slug}-[0-9a-f]{6}$`, "--filter", "status=running").trim() !== "";

  /** A bottle that started before its CLI died is the user's: `ls` lists it (it can be attached to), and `rm` removes all of it. */
  async function expectKeptThenRemoved(slug: string): Promise<void> {
    const kept = (await cli.ls()).filter((b) => b.name.startsWith(`claude-bottle-${slug}-`));
    expect(kept.map((b) => b.state)).toEqual(["running"]);
    const removed = await cli.run(["rm", "--force", kept[0]!.name]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(await leftovers(slug)).toEqual([]);
  }

  /**
   * Everything of `slug`'s bottles still on the engine or the disk after an
   * `ls`. A request the killed CLI had already sent (a network create) may
   * complete on the engine after that `ls` looked: what is left then must go
   * with the next command, so one more `ls` runs, a moment later, before
   * anything counts as left.
   */
  async function leftovers(slug: string): Promise<string[]> {
    const first = await leftoversAfterLs(slug);
    if (!first.length) return first;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    return leftoversAfterLs(slug);
  }

  async function leftoversAfterLs(slug: string): Promise<string[]> {
    const found: string[] = [];
    const listed = await cli.run(["ls"]);
    expect(listed.code, listed.stderr).toBe(0);
    const lines = (text: string) => text.split("\n").filter(Boolean);
    found.push(...lines(docker("ps", "-a", "--format", "container {{.Names}}", "--filter", `name=claude-bottle-${slug}-`)));
    found.push(...lines(docker("network", "ls", "--format", "network {{.Name}}", "--filter", `name=claude-bottle-${slug}-`)));
    // Intermediate containers of an interrupted build carry no name of ours: they are told by the base image they run on.
    found.push(...lines(docker("ps", "-a", "--format", "build-container {{.Names}} {{.Image}}", "--filter", `ancestor=claude-bottle-test/faults-${id}:base`)));
    const volumes = lines(docker("volume", "ls", "-q", "--filter", `label=dev.claude-bottle.home-project=${project.dir}`)).filter((v) => v.includes(`-${slug}-`));
    // The project's home is kept by design (a login made in a bottle lasts); there is one per agent and project.
    if (volumes.length > 1) found.push(...volumes.map((v) => `volume ${v}`));
    found.push(...egressFiles(slug).map((f) => `file ${f}`));
    const bottlesDir = join(project.dataHome, "claude-bottle", "bottles");
    if (existsSync(bottlesDir)) {
      for (const backend of readdirSync(bottlesDir)) found.push(...readdirSync(join(bottlesDir, backend)).filter((f) => f.includes(slug)).map((f) => `record ${backend}/${f}`));
    }
    return found;
  }

  const phases: [string, RegExp][] = [
    ["agent-resolve", /Resolving the agent/],
    ["backend-load", /Loading the docker backend/],
    ["prepare", /Preparing "/],
    ["cache-check", /Looking for claude-bottle\//],
    ["egress", /Starting the egress proxy/],
    ["create", /Creating claude-bottle-/],
    ["attach", /Attaching to claude-bottle-/],
  ];
  for (const [name, line] of phases) {
    it(`an attached start killed at ${name} leaves nothing but the home`, async () => {
      await killAt(["start", warm, "--", "cat"], line);
      expect(await leftovers(warm)).toEqual([]);
    });
  }

  it("an attached start killed once its agent runs (start): its stdin ends, the agent with it, and nothing is left", async () => {
    // The attached start hands the terminal over at this phase, so it prints no line: the engine says when the agent runs.
    await killAt(["start", warm, "--", "cat"], /Attaching to claude-bottle-/, () => running(warm));
    // The engine removes the bottle as its agent exits (AutoRemove); its egress goes with the next ls.
    await waitFor("the bottle to be removed", () => docker("ps", "-a", "-q", "--filter", `name=claude-bottle-${warm}-[0-9a-f]{6}$`).trim() === "", 20_000);
    expect(await leftovers(warm)).toEqual([]);
  });

  it("an attached agent that ignores its stdin outlives its killed CLI: listed, and rm removes all of it", async () => {
    await killAt(["start", warm, "--", "sleep 60"], /Attaching to claude-bottle-/, () => running(warm));
    await expectKeptThenRemoved(warm);
  });

  /** Makes the next start of the cold agent build, with a step of `seconds`. */
  function changeColdContext(seconds: number): void {
    writeFileSync(join(coldContext, "Dockerfile"), `FROM claude-bottle-test/faults-${id}:base\nCOPY nonce /nonce\nRUN sleep ${seconds}\n`);
    writeFileSync(join(coldContext, "nonce"), randomBytes(8).toString("hex"));
  }

  it("a start killed during its build leaves no build container, tag or half-made image", async () => {
    changeColdContext(60);
    await killAt(["start", cold, "--", "cat"], /Building the image of/);
    // The engine goes on with a build whose client is gone only until it notices: let it.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await leftovers(cold)).toEqual([]);
    expect(docker("images", "-q", `claude-bottle/${cold}`).trim()).toBe("");
  });

  it("an ls while another start builds leaves that start's egress alone (it is not an orphan yet)", async () => {
    changeColdContext(4);
    const started = cli.start(["start", cold, "--", "echo reached"]);
    await waitFor("the build to begin", () => started.stderr().includes("Building the image of"));
    // What a second terminal, or another helper's run on a shared engine, does meanwhile.
    for (let i = 0; i < 3; i++) expect((await cli.run(["ls"])).code).toBe(0);
    const result = await started.result;
    expect(result, result.stderr).toMatchObject({ code: 0, stdout: "reached\n" });
    await egressRemoved(cold);
    expect(await leftovers(cold)).toEqual([]);
  });

  it("a detached start killed at create leaves nothing; killed once started, a listed bottle that rm removes", async () => {
    await killAt(["start", "--detach", warm, "--", "sleep 60"], /Creating claude-bottle-/);
    expect(await leftovers(warm)).toEqual([]);
    // A detached start ends a few milliseconds after this line: the kill lands before or after the engine started the bottle.
    await killAt(["start", "--detach", warm, "--", "sleep 60"], /Starting claude-bottle-/);
    if ((await cli.ls()).some((b) => b.name.startsWith(`claude-bottle-${warm}-`))) await expectKeptThenRemoved(warm);
    else expect(await leftovers(warm)).toEqual([]);
  });

  it("a --worktree start killed while its agent works: its commits and uncommitted files stay, ls shows them, rm settles them", async () => {
    const script = [
      "cd /workspace",
      "echo one > one.txt && git add one.txt && git commit -q -m 'bottle commit'",
      "echo draft > draft.txt",
      "echo working",
      // The agent works on, past its CLI's death.
      "sleep 60",
    ].join(" && ");
    await killAt(["start", "--worktree", "wt-killed", warm, "--", script], /^working$/m);
    const listed = (await cli.ls()).find((b) => b.worktree?.branch === "wt-killed");
    expect(listed?.worktree).toBeDefined();
    const worktree = listed!.worktree!.path;
    expect(hostGit(worktree, "log", "--format=%s", "-1")).toBe("bottle commit\n");
    expect(readFileSync(join(worktree, "draft.txt"), "utf8")).toBe("draft\n");

    const removed = await cli.run(["rm", "--force", listed!.name]);
    expect(removed.code, removed.stderr).toBe(0);
    // The branch has the bottle's commit, and its uncommitted file in the commit rm --force makes of it.
    expect(hostGit(project.dir, "log", "--format=%s", "main..wt-killed")).toBe(`claude-bottle: uncommitted changes of ${listed!.name}, saved by rm --force\nbottle commit\n`);
    expect(hostGit(project.dir, "show", "wt-killed:draft.txt")).toBe("draft\n");
    expect(await leftovers(warm)).toEqual([]);
  });

  it("a --worktree start killed before its bottle ran: ls shows its worktree, rm settles it, nothing else is left", async () => {
    await killAt(["start", "--worktree", "wt-early", warm, "--", "cat"], /Creating claude-bottle-/);
    const listed = (await cli.ls()).filter((b) => b.worktree?.branch === "wt-early");
    expect(listed.map((b) => b.state)).toEqual(["removed"]);
    const removed = await cli.run(["rm", listed[0]!.name]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(await leftovers(warm)).toEqual([]);
    expect(hostGit(project.dir, "branch", "--list", "wt-early")).toContain("wt-early");
  });

  it("rm --force killed at any moment: the next ls and rm leave nothing", async () => {
    for (const afterMs of [50, 250, 500, 800]) {
      const name = await cli.detach([warm, "--", "sleep 60"]);
      const child = spawn(process.execPath, [CLI_BIN, "rm", "--force", name], { cwd: project.dir, env: { ...process.env, ...cli.env }, stdio: "ignore" });
      const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
      setTimeout(() => child.kill("SIGKILL"), afterMs);
      await closed;
      // What the user does next: look, and remove again what is still listed.
      if ((await cli.ls()).some((b) => b.name === name)) {
        const again = await cli.run(["rm", "--force", name]);
        // The engine may finish the removal the killed rm asked for between the two.
        if (again.code !== 0) expect(again.stderr, `${afterMs} ms`).toContain(`There is no bottle called ${name}`);
      }
      expect(await leftovers(warm)).toEqual([]);
    }
  });
});
