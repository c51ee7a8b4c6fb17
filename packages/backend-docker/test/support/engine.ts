import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestContext } from "@claude-bottle/core/testing";
import type Dockerode from "dockerode";
import { connectDocker } from "../../src/index.js";

/**
 * The engine the tests run against. Connecting throws when there is none,
 * which fails the tests instead of skipping them.
 */
export async function testEngine(): Promise<Dockerode> {
  return (await connectDocker()).docker;
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

export { createTestContext };
