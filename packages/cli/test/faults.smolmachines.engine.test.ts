import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildTestRegistryImage, busyboxContext } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker, removeAgentTraces, requireDocker } from "./support/docker.js";
import { cliFor } from "./support/parallel.js";
import { createProject, type TestProject } from "./support/project.js";
import { CLI_BIN, runCli, waitFor } from "./support/run-cli.js";

const SMOLVM_DOUBLE = fileURLToPath(new URL("../../backend-smolmachines/test/fixtures/smolvm", import.meta.url));

/**
 * SECURITY.md point 7 on smolmachines, through the smolvm double. The CLI
 * SIGKILLed as each phase of `start` begins, then the next start (which packs,
 * and reaps what a dead run left) and `ls`: no registry container, temporary
 * tag, staging directory, lock or half-written artifact, and no machine.
 * And a cache disk that fills up while packing.
 */
describe("faults at every phase (smolmachines, through the smolvm double)", () => {
  let project: TestProject;
  let cli: ReturnType<typeof cliFor>;
  const id = randomBytes(3).toString("hex");
  const warm = `sw-${id}`;
  const cold = `sc-${id}`;
  let context = "";
  let coldContext = "";
  const base = `claude-bottle-test/faults-smol-${id}:base`;

  beforeAll(async () => {
    requireDocker();
    if (process.getuid?.() !== 0) throw new Error("The smolvm double runs bottles in mount namespaces: these tests need root.");
    project = createProject();
    context = busyboxContext();
    docker("build", "-q", "-t", base, context);
    coldContext = mkdtempSync(join(tmpdir(), "claude-bottle-faults-smol-"));
    project.writeUserAgent(warm, `build: { dockerfile: ${join(context, "Dockerfile")}, context: ${context} }\ncommand: [sh, -c]\nnetwork: false\n`);
    project.writeUserAgent(cold, `build: { dockerfile: ${join(coldContext, "Dockerfile")}, context: ${coldContext} }\ncommand: [sh, -c]\nnetwork: false\n`);
    cli = cliFor(project, {
      CI: "true",
      CLAUDE_BOTTLE_BACKEND: "smolmachines",
      CLAUDE_BOTTLE_SMOLVM: SMOLVM_DOUBLE,
      CLAUDE_BOTTLE_REGISTRY_IMAGE: buildTestRegistryImage(),
      SMOLVM_DOUBLE_STATE: join(dirname(project.dir), "smolvm-double-state"),
    });
    const first = await cli.run(["start", warm, "--", "true"]);
    expect(first.code, first.stderr).toBe(0);
  });

  afterAll(async () => {
    for (const bottle of await cli.ls().catch(() => [])) await cli.run(["rm", "--force", bottle.name]);
    removeAgentTraces([warm, cold]);
    try {
      docker("rmi", "-f", base);
    } catch {
      // Never built.
    }
    rmSync(context, { recursive: true, force: true });
    rmSync(coldContext, { recursive: true, force: true });
    rmSync(dirname(project.dir), { recursive: true, force: true });
  });

  /** Makes the next start of the cold agent build and pack an image of its own. */
  function changeColdContext(): void {
    writeFileSync(join(coldContext, "Dockerfile"), `FROM ${base}\nCOPY nonce /nonce\n`);
    writeFileSync(join(coldContext, "nonce"), randomBytes(8).toString("hex"));
  }

  /** Starts the CLI with its stdin open, SIGKILLs it once `line` is printed; returns its pid (what its registry is labelled with). */
  async function killAt(args: string[], line: RegExp): Promise<number> {
    const child = spawn(process.execPath, [CLI_BIN, ...args], { cwd: project.dir, env: { ...process.env, ...cli.env }, stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
    await waitFor(`${line} in the output of ${args.join(" ")}`, () => line.test(output) || child.exitCode !== null, 120_000);
    child.kill("SIGKILL");
    await closed;
    expect(child.signalCode, output).toBe("SIGKILL");
    return child.pid!;
  }

  /** What a killed start of pid `pid` left, after the next start and an `ls`. */
  async function leftovers(slug: string, pid: number): Promise<string[]> {
    const found: string[] = [];
    const lines = (text: string) => text.split("\n").filter(Boolean);
    found.push(...lines(docker("ps", "-a", "--format", "registry {{.Names}}", "--filter", `label=dev.claude-bottle.owner-pid=${pid}`)));
    // The temporary tags the pipeline pushes from: localhost:PORT/claude-bottle:KEY, of this agent's images.
    const ours = new Set(lines(docker("images", "-q", "--no-trunc", "--filter", `label=dev.claude-bottle.agent=${slug}`)));
    for (const row of lines(docker("images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"))) {
      const [tag, image] = row.split(" ");
      if (/^localhost:\d+\/claude-bottle:/.test(tag!) && ours.has(image!)) found.push(`tag ${tag}`);
    }
    const cache = join(project.cacheHome, "claude-bottle", "smolmachines");
    if (existsSync(cache)) {
      for (const entry of readdirSync(cache)) {
        if (entry.startsWith(".staging-") || entry.endsWith(".lock") || entry.includes(".lock.")) found.push(`cache ${entry}`);
        // A stub without its machine, or the reverse: half an artifact.
        const stub = entry.replace(/\.smolmachine$/, "");
        if (/^[0-9a-f]{16}(\.smolmachine)?$/.test(entry) && !(existsSync(join(cache, stub)) && existsSync(join(cache, `${stub}.smolmachine`)))) found.push(`half ${entry}`);
      }
    }
    found.push(...(await cli.ls()).filter((b) => b.name.startsWith(`claude-bottle-${slug}-`)).map((b) => `bottle ${b.name} ${b.state}`));
    return found;
  }

  /** The next start of `slug`, which must work and reap. */
  async function nextStart(slug: string): Promise<void> {
    const result = await cli.run(["start", slug, "--", "echo again"]);
    expect(result, result.stderr).toMatchObject({ code: 0, stdout: "again\n" });
  }

  const coldPhases: [string, RegExp][] = [
    ["cache-check", /Looking for the packed machine/],
    ["build", /Building the image of/],
    ["registry-up", /Starting a local registry/],
    ["push", /Pushing the image to/],
    ["pack", /Packing the machine with smolvm/],
    ["registry-down", /Removing the local registry/],
  ];
  for (const [name, line] of coldPhases) {
    it(`a start killed at ${name} leaves nothing once the next start ran`, async () => {
      changeColdContext();
      const pid = await killAt(["start", cold, "--", "cat"], line);
      await nextStart(cold);
      expect(await leftovers(cold, pid)).toEqual([]);
    });
  }

  const warmPhases: [string, RegExp][] = [
    ["agent-resolve", /Resolving the agent/],
    ["backend-load", /Loading the smolmachines backend/],
    ["prepare", /Preparing "/],
    ["cache-check", /Looking for the packed machine/],
    // An attached machine is made and run in one phase.
    ["start", /Starting claude-bottle-/],
  ];
  for (const [name, line] of warmPhases) {
    it(`an attached start killed at ${name} leaves no machine after ls`, async () => {
      const pid = await killAt(["start", warm, "--", "cat"], line);
      expect(await leftovers(warm, pid)).toEqual([]);
    });
  }

  it("a detached start killed at create leaves no machine after ls", async () => {
    const pid = await killAt(["start", "--detach", warm, "--", "sleep 60"], /Creating claude-bottle-/);
    expect(await leftovers(warm, pid)).toEqual([]);
  });

  it("a full disk while packing: a clear error naming the disk, nothing kept, and the next start works once there is room", async () => {
    const small = join(dirname(project.dir), "small-cache");
    mkdirSync(small);
    const big = `sb-${id}`;
    const bigContext = mkdtempSync(join(tmpdir(), "claude-bottle-faults-big-"));
    // The packed machine holds a 12 MiB file (random, so no compression saves it): more than the 8 MiB the cache has.
    writeFileSync(join(bigContext, "big"), randomBytes(12 * 2 ** 20));
    writeFileSync(join(bigContext, "Dockerfile"), `FROM ${base}\nCOPY big /big\n`);
    project.writeUserAgent(big, `build: { dockerfile: ${join(bigContext, "Dockerfile")}, context: ${bigContext} }\ncommand: [sh, -c]\nnetwork: false\n`);
    const start = () => runCli(["start", big, "--", "echo fits"], { cwd: project.dir, env: { ...cli.env, XDG_CACHE_HOME: small } });
    const mount = (size: string) => execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", small]);
    try {
      mount("8m");
      const full = await start();
      const dir = join(small, "claude-bottle", "smolmachines");
      expect(full.code, full.stderr).toBe(125);
      expect(full.stderr).toContain(`The disk of ${dir} is full: the packed machine does not fit there. Nothing of it was kept.`);
      expect(full.stderr).toContain(`hint: Free some space on that disk (df -h ${dir})`);
      // No staging directory, no lock, no half an artifact, no record of inputs whose machine is not there.
      expect(readdirSync(dir)).toEqual([]);

      // Room again: a bigger disk.
      execFileSync("umount", [small]);
      mount("64m");
      const fits = await start();
      expect(fits, fits.stderr).toMatchObject({ code: 0, stdout: "fits\n" });
    } finally {
      execFileSync("umount", [small], { stdio: "ignore" });
      removeAgentTraces([big]);
      rmSync(bigContext, { recursive: true, force: true });
    }
  });
});
