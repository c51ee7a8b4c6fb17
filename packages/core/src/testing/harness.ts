import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { Stdio } from "../backend.js";
import type { BackendContext, ProgressEvent } from "../context.js";
import { BottleError } from "../errors.js";
import { silentLogger } from "../context.js";

/** A context for tests: a fresh cache directory, a recorded event list, a live signal. */
export function createTestContext(
  overrides: Partial<BackendContext> = {},
): BackendContext & { events: ProgressEvent[]; controller: AbortController } {
  const events: ProgressEvent[] = [];
  const controller = new AbortController();
  return {
    emit: (event) => events.push(event),
    signal: controller.signal,
    cacheDir: mkdtempSync(join(tmpdir(), "claude-bottle-cache-")),
    env: {},
    cwd: process.cwd(),
    logger: silentLogger,
    ...overrides,
    events,
    controller,
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

/** The BottleError `promise` rejects with; throws when it resolves, or rejects with anything else. */
export async function bottleErrorOf(promise: Promise<unknown>): Promise<BottleError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!BottleError.isInstance(error)) {
    throw new Error(`expected a BottleError, got ${error === undefined ? "success" : String(error)}`);
  }
  return error;
}
