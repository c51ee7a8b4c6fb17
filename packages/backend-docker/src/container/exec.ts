import { setTimeout as delay } from "node:timers/promises";
import { WORKSPACE_TARGET, type Stdio } from "@claude-bottle/core";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { connectStdio } from "./attach.js";
import { HOME_DIR } from "./home-volume.js";

/**
 * Runs `command` in a running bottle, in /workspace and as the bottle's own
 * user, with the caller's stdio; resolves with the command's exit code.
 */
export async function execInBottle(
  api: EngineApi,
  container: string,
  command: readonly string[],
  stdio: Stdio,
  /** `uid:gid` or a name; undefined runs as the image's user. */
  user: string | undefined,
): Promise<number> {
  const tty = stdio.stdin.isTTY === true;
  const { Id: exec } = await api.json<{ Id: string }>("POST", `/containers/${container}/exec`, {
    body: {
      Cmd: [...command],
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: tty,
      WorkingDir: WORKSPACE_TARGET,
      Env: [`HOME=${HOME_DIR}`],
      ...(user ? { User: user } : {}),
    },
  });
  const stream = await api.hijack(`/exec/${exec}/start`, { body: { Detach: false, Tty: tty } });
  const session = connectStdio(stream, stdio, {
    tty,
    stdin: true,
    endInput: true,
    resize: (size) => api.json("POST", `/exec/${exec}/resize`, { query: size }),
  });
  try {
    session.followTerminalSize();
    await session.ended;
    return await exitCodeOf(api, exec);
  } finally {
    session.release();
    stream.destroy();
  }
}

/**
 * The engine closes the stream as the process exits and records the exit
 * code just after; the short wait covers that gap.
 */
async function exitCodeOf(api: EngineApi, exec: string): Promise<number> {
  for (;;) {
    const state = await api.json<{ Running: boolean; ExitCode: number | null }>("GET", `/exec/${exec}/json`);
    if (!state.Running) return state.ExitCode ?? 0;
    await delay(20);
  }
}
