import { abortedError, phase, throwIfAborted, type BackendContext, type Stdio } from "@claude-bottle/core";
import type { EngineApi } from "@claude-bottle/docker-engine";
import type Dockerode from "dockerode";
import { connectStdio } from "./attach.js";
import { attachContainer, resizeContainer, startContainer, stopContainer } from "./lifecycle.js";
import { registerWait, type WaitCondition } from "./wait.js";

/** Seconds a stopping bottle gets to exit before it is killed. */
export const STOP_GRACE_SECONDS = 10;

/**
 * Connects the user's stdio to the bottle's main process and resolves with
 * its exit code. A bottle the launch owns is started here, after the wait is
 * registered and the stream attached, so no output and no exit is missed.
 * Ctrl-C outside a terminal (the signal) throws ABORTED: it stops a bottle the
 * launch owns, and only leaves one that was attached to. In a terminal Ctrl-C
 * is a byte the agent receives. The detach keys end the session and leave the
 * bottle running, resolving with 0.
 */
export async function runAttached(
  api: EngineApi,
  container: string,
  stdio: Stdio,
  ctx: BackendContext,
  how: {
    /** How the container was created: whether it has a TTY and an open stdin. */
    config: Pick<Dockerode.ContainerCreateOptions, "Tty" | "OpenStdin" | "StdinOnce">;
    waitFor: WaitCondition;
    /** True for the launch that created the bottle: it starts it, and stops it on abort. */
    ownsBottle: boolean;
    title: string;
  },
): Promise<number> {
  const { config } = how;
  const tty = config.Tty === true;
  const { exited, stream, session } = await phase(ctx, "attach", how.title, async () => {
    const wait = await registerWait(api, container, how.waitFor);
    const exited = wait.exitCode;
    // The exit is awaited below only on some paths; an unobserved rejection must not crash the host.
    exited.catch(() => {});
    // A refused attach (a paused bottle) must not leave the wait holding the caller open.
    const stream = await attachContainer(api, container, config.OpenStdin === true).catch((error: unknown) => {
      wait.cancel();
      throw error;
    });
    const session = connectStdio(stream, stdio, {
      tty,
      stdin: config.OpenStdin === true,
      endInput: config.StdinOnce === true,
      resize: (size) => resizeContainer(api, container, size),
    });
    return { exited, stream, session };
  });
  const onAbort = how.ownsBottle
    ? () => void stopContainer(api, container, STOP_GRACE_SECONDS).catch(() => {})
    : () => (stream as unknown as { destroy: () => void }).destroy();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  try {
    // The signal may have fired while attaching, before anyone listened.
    throwIfAborted(ctx.signal);
    if (how.ownsBottle) await phase(ctx, "start", "Starting the agent", () => startContainer(api, container));
    session.followTerminalSize();
    await session.ended;
    if (ctx.signal.aborted && !how.ownsBottle) throw abortedError(ctx.signal.reason);
    if (session.detached()) return 0;
    const exitCode = await exited;
    if (ctx.signal.aborted) throw abortedError(ctx.signal.reason);
    return exitCode;
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    session.release();
    (stream as unknown as { destroy?: () => void }).destroy?.();
  }
}
