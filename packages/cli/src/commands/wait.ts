import { BottleError, ErrorCodes, abortedError } from "@claude-bottle/core";
import { requireCapability } from "@claude-bottle/core/host";
import type { BottleStatus } from "../bottles/status.js";
import { recordOf, viewOf } from "../bottles/view.js";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { loadSelectedBackend } from "../select-backend.js";

export interface WaitOptions {
  /** The state to wait for; by default `waiting` or `done`, whichever comes first. */
  for?: "waiting" | "done";
  /** Seconds, as given on the command line. */
  timeout?: string;
  json: boolean;
}

/** What `wait` exits with besides 0 (reached), 125 (error) and 130 (interrupted). */
export const WaitExitCodes = {
  /** The bottle ended (or was removed) before it reached `waiting`. */
  ENDED: 1,
  /** `--timeout` passed first, as `timeout(1)` says it. */
  TIMED_OUT: 124,
} as const;

const POLL_MS = 250;

/**
 * `wait <bottle> [--for waiting|done] [--timeout S] [--json]`: polls the
 * bottle's status until it is reached. A bottle that ends has done all it
 * will: that satisfies `done` (and the default), never `waiting`.
 */
export async function wait(environment: CommandEnvironment, bottle: string, options: WaitOptions): Promise<number> {
  const timeoutMs = options.timeout === undefined ? undefined : Number(options.timeout) * 1000;
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
    throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `--timeout takes a number of seconds, not "${options.timeout}".`, { hint: "For example: --timeout 600" });
  }
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    const list = requireCapability(backend, "list");
    const { env, signal } = session.context;
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const reached = (status: BottleStatus) =>
      options.for === undefined ? status.state === "waiting" || status.state === "done" : status.state === options.for;
    const report = (status: BottleStatus, code: number) => {
      process.stdout.write(options.json ? `${JSON.stringify({ name: bottle, status, reached: code === 0 })}\n` : `${status.state}\n`);
      return code;
    };
    let seen = false;
    for (;;) {
      if (signal.aborted) throw abortedError(signal.reason);
      const info = (await list(session.context)).find((b) => b.name === bottle);
      if (!info && !seen && !(await recordOf(env, backend.name, bottle))?.record) {
        throw new BottleError(ErrorCodes.BOTTLE_NOT_FOUND, `There is no bottle called ${bottle} on the ${backend.name} backend.`, {
          hint: "List the bottles with `claude-bottle ls`.",
        });
      }
      seen = true;
      const status: BottleStatus = info ? (await viewOf(env, backend.name, info)).status : { state: "exited" };
      if (reached(status)) return report(status, ExitCodes.OK);
      if (status.state === "exited") return report(status, options.for === "waiting" ? WaitExitCodes.ENDED : ExitCodes.OK);
      if (deadline !== undefined && Date.now() >= deadline) return report(status, WaitExitCodes.TIMED_OUT);
      await sleep(POLL_MS, signal);
    }
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
