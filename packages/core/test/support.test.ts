import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import {
  assertAgentPaths,
  bottleEnvironment,
  bottleLabels,
  Labels,
  TEST_RUN_ENV,
  toolLabels,
  exitCodeOf,
  isProcessAlive,
  pipeStdio,
  type ResolvedAgent,
} from "../src/index.js";
import { captureStdio, createTestContext, expectBottleError } from "../src/testing/index.js";

const root = mkdtempSync(join(tmpdir(), "cb-support-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const agent = (patch: Partial<ResolvedAgent> = {}): ResolvedAgent => ({
  slug: "helper",
  origin: "user",
  image: { kind: "ref", ref: "busybox" },
  args: [],
  workspace: root,
  mounts: [],
  env: [],
  network: false,
  resources: {},
  ...patch,
});

describe("the helpers core gives backends", () => {
  it("labels a bottle and anything else a backend makes with claude-bottle's mark and the test run's id", () => {
    const run = process.env[TEST_RUN_ENV];
    const agent = { slug: "reviewer", workspace: "/home/me/project" };
    expect(bottleLabels("docker", agent)).toMatchObject({ [Labels.tool]: "true", [Labels.agent]: "reviewer", [Labels.workspace]: "/home/me/project", [Labels.backend]: "docker" });
    expect(toolLabels({ "example.role": "proxy" })).toMatchObject({ [Labels.tool]: "true", "example.role": "proxy" });
    // A run's id cannot be replaced by the object's own labels: it is how the run finds what it left.
    expect(toolLabels({ [Labels.testRun]: "forged" })[Labels.testRun]).toBe(run?.trim() || "forged");
  });

  it("assertAgentPaths: the workspace and mounts with the standard codes, files refused where only directories mount", async () => {
    const file = join(root, "a-file");
    writeFileSync(file, "x");
    expect(() => assertAgentPaths(agent({ mounts: [{ source: file, target: "/f", readOnly: true }] }))).not.toThrow();
    await expectBottleError((async () => assertAgentPaths(agent({ workspace: join(root, "nope") })))(), "WORKSPACE_NOT_FOUND");
    await expectBottleError(
      (async () => assertAgentPaths(agent({ mounts: [{ source: join(root, "gone"), target: "/g", readOnly: true }] })))(),
      "MOUNT_NOT_FOUND",
    );
    const refused = await expectBottleError(
      (async () => assertAgentPaths(agent({ mounts: [{ source: file, target: "/f", readOnly: true }] }), { mountSources: "directory", backend: "acme" }))(),
      "UNSUPPORTED",
    );
    expect(refused.message).toContain("the acme backend can mount directories only");
  });

  it("bottleEnvironment: literals, set passthroughs, and unset passthroughs left out", () => {
    const env = bottleEnvironment(
      [
        { name: "L", passthrough: false, value: "lit" },
        { name: "P", passthrough: true },
        { name: "U", passthrough: true },
      ],
      { P: "from-host" },
    );
    expect(env).toEqual({ L: "lit", P: "from-host" });
  });

  it("exitCodeOf and isProcessAlive: 128 + N for signal N; a reaped child is gone", async () => {
    expect(exitCodeOf(3, null)).toBe(3);
    expect(exitCodeOf(null, "SIGKILL")).toBe(137);
    expect(isProcessAlive(process.pid)).toBe(true);
    const child = spawn("sleep", ["30"]);
    await new Promise((resolve) => child.once("spawn", resolve));
    expect(isProcessAlive(child.pid!)).toBe(true);
    child.kill("SIGKILL");
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once("exit", (c, s) => resolve([c, s])));
    expect(exitCodeOf(code, signal)).toBe(137);
    expect(isProcessAlive(child.pid!)).toBe(false);
    expect(isProcessAlive(0)).toBe(false);
  });

  it("pipeStdio: input in, output out and apart, the caller's streams left open", async () => {
    const child = spawn("sh", ["-c", "cat; echo err >&2"], { stdio: "pipe" });
    const io = captureStdio("piped\n");
    const release = pipeStdio(child, io.stdio);
    await new Promise((resolve) => child.once("close", resolve));
    release();
    expect(io.stdout()).toBe("piped\n");
    expect(io.stderr()).toBe("err\n");
    expect((io.stdio.stdout as PassThrough).writableEnded).toBe(false);
  });

  it("createTestContext: the cache directory it made goes with dispose()", async () => {
    const ctx = createTestContext();
    expect(existsSync(ctx.cacheDir)).toBe(true);
    await ctx.dispose();
    expect(existsSync(ctx.cacheDir)).toBe(false);
    const given = createTestContext({ cacheDir: root });
    await given.dispose();
    expect(existsSync(root)).toBe(true);
  });
});
