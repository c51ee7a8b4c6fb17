import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Labels, type BackendContext } from "@claude-bottle/core";
import { createTestContext as coreTestContext } from "@claude-bottle/core/testing";
import type Dockerode from "dockerode";
import { beforeAll, beforeEach } from "vitest";
import { connectDocker } from "@claude-bottle/docker-engine";

/** The engine the tests run against; connecting throws when there is none. */
export async function testEngine(): Promise<Dockerode> {
  return (await connectDocker()).docker;
}

/**
 * Connects once before a file's tests. Without an engine every test fails
 * with the reason: a failing beforeAll would only mark them skipped.
 */
export function useTestEngine(connected: (docker: Dockerode) => void): void {
  let failure: unknown;
  beforeAll(async () => {
    try {
      connected(await testEngine());
    } catch (error) {
      failure = error ?? new Error("no Docker engine");
    }
  });
  beforeEach(() => {
    if (failure) throw failure;
  });
}

/** Runs `work` once, on first call; later calls share its result. For setup that needs the engine. */
export function once<T>(work: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= work());
}

/** The error a promise rejects with; fails when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & { code?: string; hint?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; hint?: string };
  }
  throw new Error("expected a rejection, the promise resolved");
}

/** A unique suffix, so test images and agents never collide with another run's. */
export function uniqueSuffix(): string {
  return `${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
}

/**
 * A unix socket that nothing answers on: a process bound it and was killed,
 * as a crashed daemon leaves its socket behind.
 */
export async function deadSocket(): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), "claude-bottle-dead-")), "docker.sock");
  const child: ChildProcess = spawn(
    process.execPath,
    ["-e", `require("net").createServer().listen(${JSON.stringify(path)}, () => console.log("listening"))`],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
  return path;
}

/** Core's test context, with this process's environment so that DOCKER_HOST is honoured as the tests' own connection honours it. */
export function createTestContext(overrides: Partial<BackendContext> = {}): ReturnType<typeof coreTestContext> {
  return coreTestContext({ env: { ...process.env }, ...overrides });
}

/**
 * Removes the home volumes of agents whose slug starts with `prefix` (homes
 * are per agent and per project, so a test cannot name them all), so a file
 * leaves the engine as it found it.
 */
export async function removeHomesOfAgents(docker: Dockerode, prefix: string): Promise<void> {
  const { Volumes } = await docker.listVolumes({ filters: { label: [Labels.agent] } });
  for (const volume of Volumes ?? []) {
    if (volume.Labels?.[Labels.agent]?.startsWith(prefix)) await docker.getVolume(volume.Name).remove().catch(() => {});
  }
}
