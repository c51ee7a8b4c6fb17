import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDocker, type DockerConnection } from "@claude-bottle/docker-engine";
import { busyboxContext, startSecondEngine, TEST_RUN_LABEL, type SecondEngine } from "@claude-bottle/test-support";
import { carryWorkspace } from "../src/remote/carry-in.js";
import { createCarriedVolume, fillVolume, removeCarriedVolumes, workspaceVolumeName } from "../src/remote/carried-volumes.js";

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-C", cwd, "-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { encoding: "utf8" });
const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" });

describe("carrying a repository into a volume on the engine (real git, real engine)", () => {
  let engine: DockerConnection;
  let image: string;
  let repo: string;
  const bottle = `carry-test-${process.pid}`;

  beforeAll(async () => {
    engine = await connectDocker();
    const context = busyboxContext();
    const run = process.env.CLAUDE_BOTTLE_TEST_RUN;
    image = docker("build", "-q", ...(run ? ["--label", `${TEST_RUN_LABEL}=${run}`] : []), context).trim();
    rmSync(context, { recursive: true, force: true });
    repo = mkdtempSync(join(tmpdir(), "claude-bottle-carry-repo-"));
    git(repo, "init", "-q", "-b", "main");
    writeFileSync(join(repo, ".gitignore"), "secret.env\n");
    writeFileSync(join(repo, "a.txt"), "committed\n");
    git(repo, "add", ".");
    git(repo, "commit", "-qm", "first");
    writeFileSync(join(repo, "a.txt"), "changed, not committed\n");
    writeFileSync(join(repo, "new.txt"), "untracked\n");
    writeFileSync(join(repo, "secret.env"), "TOKEN=ignored\n");
  }, 120_000);

  afterAll(async () => {
    await removeCarriedVolumes(engine.api, bottle);
    if (image) docker("rmi", "-f", image);
    rmSync(repo, { recursive: true, force: true });
  });

  it("puts HEAD's history on the bottle's branch and the uncommitted and untracked files, not the ignored ones", async () => {
    const carried = await carryWorkspace(repo, bottle, { uid: 1234, gid: 1234 });
    expect(carried.record).toMatchObject({ kind: "git", branch: bottle, base: git(repo, "rev-parse", "HEAD").trim() });
    expect(Object.keys(carried.record.manifest).sort()).toEqual([".gitignore", "a.txt", "new.txt"]);
    const volume = workspaceVolumeName(bottle);
    await createCarriedVolume(engine.api, volume, bottle);
    await fillVolume(engine.api, image, volume, carried.archive);
    const seen = docker(
      "run", "--rm", "--network", "none", "--user", "1234:1234", "-v", `${volume}:/workspace`, image,
      "sh", "-c", "cd /workspace && cat a.txt new.txt && cat .git/HEAD && ls secret.env 2>&1; touch made-by-bottle && stat -c %u .",
    );
    expect(seen).toContain("changed, not committed\nuntracked\n");
    expect(seen).toContain(`ref: refs/heads/${bottle}`);
    expect(seen).toMatch(/secret\.env: No such file/);
    // The bottle's user owns its workspace's top, so it can write there.
    expect(seen.trim().endsWith("1234")).toBe(true);
  }, 60_000);

  it("refuses a bottle named after a branch the user already has", async () => {
    await expect(carryWorkspace(repo, "main", undefined)).rejects.toMatchObject({ code: "NAME_CONFLICT" });
  });
});

describe("carrying a repository to an engine that does not share this machine's files (a second dockerd of the test's own)", () => {
  let second: SecondEngine | undefined;
  let image = "";
  let repo = "";
  const bottle = `carry-remote-${process.pid}`;

  beforeAll(async () => {
    const context = busyboxContext();
    const run = process.env.CLAUDE_BOTTLE_TEST_RUN;
    image = docker("build", "-q", ...(run ? ["--label", `${TEST_RUN_LABEL}=${run}`] : []), context).trim();
    rmSync(context, { recursive: true, force: true });
    second = await startSecondEngine();
    second.loadImage(image);
    repo = mkdtempSync(join(tmpdir(), "claude-bottle-carry-repo-"));
    git(repo, "init", "-q", "-b", "main");
    writeFileSync(join(repo, "a.txt"), "committed\n");
    git(repo, "add", ".");
    git(repo, "commit", "-qm", "first");
    writeFileSync(join(repo, "a.txt"), "edited\n");
  }, 180_000);

  afterAll(async () => {
    await second?.stop();
    if (image) docker("rmi", "-f", image);
    rmSync(repo, { recursive: true, force: true });
    // Its own network namespace kept the main engine's bridge out of its reach.
    expect(execFileSync("ip", ["link", "show", "docker0"], { encoding: "utf8" })).toContain("docker0");
  }, 60_000);

  it("a bind mount of the workspace is empty there, the carried volume holds it", async () => {
    const remote = second!;
    // What the backend did before: bind the workspace's path. On another machine that path is nothing.
    expect(remote.docker("run", "--rm", "--network", "none", "-v", `${repo}:/workspace`, image, "ls", "-A", "/workspace").trim()).toBe("");
    const engine = await connectDocker({ env: { DOCKER_HOST: remote.host, CLAUDE_BOTTLE_ENGINE: "remote" } });
    expect(engine.remote).toBe(true);
    const carried = await carryWorkspace(repo, bottle, undefined);
    const volume = workspaceVolumeName(bottle);
    await createCarriedVolume(engine.api, volume, bottle);
    await fillVolume(engine.api, image, volume, carried.archive);
    const seen = remote.docker("run", "--rm", "--network", "none", "-v", `${volume}:/workspace`, image, "sh", "-c", "cat /workspace/a.txt /workspace/.git/HEAD");
    expect(seen).toBe(`edited\nref: refs/heads/${bottle}\n`);
    await removeCarriedVolumes(engine.api, bottle);
    expect(remote.docker("volume", "ls", "-q").trim()).toBe("");
  }, 120_000);
});
