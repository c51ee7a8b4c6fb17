import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { Stdio } from "../backend.js";
import type { BackendContext, ProgressEvent } from "../context.js";
import { BottleError, type ErrorCode } from "../errors.js";
import { silentLogger } from "../context.js";

/** Cache directories made by createTestContext and not yet removed: removed when the process exits. */
const madeDirs = new Set<string>();
let exitHook = false;

function temporaryCacheDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "claude-bottle-cache-"));
  madeDirs.add(dir);
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => {
      for (const made of madeDirs) rmSync(made, { recursive: true, force: true });
    });
  }
  return dir;
}

export type TestContext = BackendContext & {
  events: ProgressEvent[];
  controller: AbortController;
  /** Removes the cache directory this context made (none when `cacheDir` was given); also done at process exit. */
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
};

/**
 * The variables that say which Docker engine to use, from the test process:
 * a context's environment replaces the process's for a backend, and tests run
 * against a second engine (DOCKER_HOST=unix:///tmp/...) must reach that one.
 */
function engineSelection(): Record<string, string> {
  const selected: Record<string, string> = {};
  for (const name of ["DOCKER_HOST", "DOCKER_CONTEXT"]) if (process.env[name]) selected[name] = process.env[name]!;
  return selected;
}

/**
 * A context for tests: a recorded event list, a live signal, and a fresh
 * cache directory unless `overrides.cacheDir` names one. The directory it
 * made goes with `dispose()` (or `await using`), and at the latest when the
 * process exits: nothing is left in the temporary directory. Its environment
 * has the process's DOCKER_HOST and DOCKER_CONTEXT under `overrides.env`.
 */
export function createTestContext(overrides: Partial<BackendContext> = {}): TestContext {
  const events: ProgressEvent[] = [];
  const controller = new AbortController();
  const made = overrides.cacheDir === undefined ? temporaryCacheDir() : undefined;
  const dispose = async () => {
    if (made === undefined) return;
    rmSync(made, { recursive: true, force: true });
    madeDirs.delete(made);
  };
  return {
    emit: (event) => events.push(event),
    signal: controller.signal,
    cacheDir: made ?? overrides.cacheDir!,
    cwd: process.cwd(),
    logger: silentLogger,
    ...overrides,
    env: { ...engineSelection(), ...overrides.env },
    events,
    controller,
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}

export interface CapturedStdio {
  stdio: Stdio;
  /** Everything written to stdout so far. */
  stdout(): string;
  stderr(): string;
}

/** Non-terminal streams with recorded output; `input` is written to stdin and then closed. */
export function captureStdio(input = ""): CapturedStdio {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  stdin.end(input);
  return { stdio: { stdin, stdout, stderr }, stdout: () => out, stderr: () => err };
}

/** The BottleError `promise` rejects with; fails, saying what happened instead, when it resolves or rejects with anything else. */
export async function bottleErrorOf(promise: Promise<unknown>): Promise<BottleError> {
  const outcome = await promise.then(
    (value: unknown) => ({ resolved: true as const, value }),
    (error: unknown) => ({ resolved: false as const, error }),
  );
  if (outcome.resolved) {
    throw new Error(`expected a BottleError, but it succeeded with ${JSON.stringify(outcome.value) ?? "undefined"}`);
  }
  if (!BottleError.isInstance(outcome.error)) {
    const shown = outcome.error instanceof Error ? (outcome.error.stack ?? String(outcome.error)) : String(outcome.error);
    throw new Error(`expected a BottleError, got: ${shown}`, { cause: outcome.error });
  }
  return outcome.error;
}

/**
 * Expects `promise` to reject with a BottleError of `code`; a failure shows
 * the expected and the actual code, and the error's message. Returns the error.
 */
export async function expectBottleError(promise: Promise<unknown>, code: ErrorCode): Promise<BottleError> {
  const error = await bottleErrorOf(promise);
  // Loaded here, not at the top: the rest of this module is usable outside vitest.
  const { expect } = await import("vitest");
  expect(error.code, `BottleError "${error.message}"`).toBe(code);
  return error;
}
