import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResolvedAgent } from "@claude-bottle/core";
import { captureStdio, createTestContext, testSpec } from "@claude-bottle/core/testing";
import { createBubblewrapBackend } from "../src/index.js";

/** An agent that runs the host's sh in a fresh workspace. The image is a placeholder: this backend runs host programs. */
export function hostAgent(overrides: Partial<ResolvedAgent> = {}): ResolvedAgent {
  return {
    slug: "host-sh",
    origin: "project",
    image: { kind: "ref", ref: "host" },
    command: ["sh", "-c", "exit 0"],
    args: [],
    workspace: mkdtempSync(join(tmpdir(), "bubblewrap-workspace-")),
    mounts: [],
    env: [],
    network: false,
    resources: {},
    ...overrides,
  };
}

/** The host's PATH, so bwrap is found the way the CLI would find it. */
export const hostEnv = { PATH: process.env.PATH };

/** Prepares and launches `agent` attached with captured output; shares `cacheDir` when given, so homes persist. */
export async function runInSandbox(agent: ResolvedAgent, options: { cacheDir?: string; env?: Record<string, string>; input?: string } = {}) {
  const ctx = createTestContext({
    env: { ...hostEnv, ...options.env },
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
  });
  const backend = createBubblewrapBackend();
  const io = captureStdio(options.input ?? "");
  const launched = await backend.launch(await backend.prepare(testSpec(agent), ctx), { extraArgs: [], detach: false, stdio: io.stdio }, ctx);
  if (launched.detached) throw new Error("an attached launch came back detached");
  return { exitCode: launched.exitCode, stdout: io.stdout(), stderr: io.stderr() };
}
