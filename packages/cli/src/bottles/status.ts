import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import type { BottleInfo } from "@claude-bottle/core";

/** What an agent reports: at work, blocked on the user (a permission prompt, a question), or finished its turn. */
export const REPORTED_STATES = ["working", "waiting", "done"] as const;
export type ReportedState = (typeof REPORTED_STATES)[number];
/** What `ls` shows: a report, or for an agent that reports nothing, whether its bottle runs. */
export type StatusState = ReportedState | "running" | "exited";

export interface BottleStatus {
  state: StatusState;
  /** ISO 8601; absent when not known (a bottle that has stopped and reported nothing). */
  since?: string;
}

/** Where a bottle sees its own status directory (read-write) and claude-bottle's hook settings (read-only). */
export const STATUS_TARGET = "/claude-bottle/status";
export const HOOKS_TARGET = "/claude-bottle/hooks";
/** The settings file passed to Claude Code with `--settings`. */
export const CLAUDE_SETTINGS_FILE = "claude-code-settings.json";
/** The one file of the status directory the host reads. */
const STATE_FILE = "state";
/** A state word is a few bytes; more is not read. */
const MAX_STATE_BYTES = 64;

/**
 * The shell command that reports `state`: written beside, then renamed into
 * place, so a reader never sees half of it. The time of the report is the
 * file's modification time.
 */
export function reportCommand(state: ReportedState): string {
  const temporary = `${STATUS_TARGET}/.${STATE_FILE}.$$`;
  return `printf '%s\\n' ${state} > ${temporary} && mv -f ${temporary} ${STATUS_TARGET}/${STATE_FILE}`;
}

/**
 * Claude Code's settings (passed with `--settings`, merged with the user's
 * own): hooks that report the status. A prompt submitted or a tool about to
 * run or just run is `working`; a permission prompt or a question to the user
 * is `waiting`; the end of a turn is `done`.
 */
export function claudeCodeHookSettings(): { hooks: Record<string, { matcher?: string; hooks: { type: "command"; command: string; timeout: number }[] }[]> } {
  const hook = (state: ReportedState, matcher?: string) => ({
    ...(matcher !== undefined ? { matcher } : {}),
    hooks: [{ type: "command" as const, command: reportCommand(state), timeout: 10 }],
  });
  return {
    hooks: {
      UserPromptSubmit: [hook("working")],
      PreToolUse: [hook("working", "*")],
      PostToolUse: [hook("working", "*")],
      Notification: [hook("waiting", "permission_prompt|elicitation_dialog")],
      Stop: [hook("done")],
    },
  };
}

/**
 * The last state a bottle reported in its status directory, and when. The
 * bottle owns that directory: the file may be anything (a link, a FIFO, a
 * huge file, garbage), so it is opened without following links or blocking,
 * only a regular file is read, and only a known word counts.
 */
export async function readReportedStatus(statusDir: string): Promise<BottleStatus | undefined> {
  let handle;
  try {
    handle = await open(join(statusDir, STATE_FILE), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile() || info.size > MAX_STATE_BYTES) return undefined;
    const buffer = Buffer.alloc(MAX_STATE_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, MAX_STATE_BYTES, 0);
    const word = buffer.subarray(0, bytesRead).toString("utf8").trim();
    if (!(REPORTED_STATES as readonly string[]).includes(word)) return undefined;
    const since = Number.isFinite(info.mtimeMs) && info.mtimeMs > 0 ? new Date(info.mtimeMs).toISOString() : undefined;
    return { state: word as ReportedState, ...(since ? { since } : {}) };
  } catch {
    return undefined;
  } finally {
    await handle.close().catch(() => {});
  }
}

/**
 * A bottle's status: its report while it runs; `running` (since it was
 * created) when it has reported nothing; `exited` once it no longer runs,
 * whatever it last reported.
 */
export function bottleStatus(info: Pick<BottleInfo, "state" | "created">, reported: BottleStatus | undefined): BottleStatus {
  if (info.state !== "running" && info.state !== "paused" && info.state !== "created") return { state: "exited" };
  return reported ?? { state: "running", since: info.created };
}
