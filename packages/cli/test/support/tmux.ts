import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { waitFor } from "./run-cli.js";

/**
 * A tmux server of its own running one command in a real pseudo-terminal:
 * keys typed, screen read, window resized, as a person at a terminal would.
 */
export class TmuxSession {
  private readonly socket = `claude-bottle-test-${randomBytes(4).toString("hex")}`;

  constructor(command: string, size: { columns: number; rows: number }) {
    this.tmux("new-session", "-d", "-s", "main", "-x", String(size.columns), "-y", String(size.rows), command);
  }

  type(keys: string): void {
    this.tmux("send-keys", "-t", "main", "-l", keys);
    this.tmux("send-keys", "-t", "main", "Enter");
  }

  screen(): string {
    return this.tmux("capture-pane", "-p", "-t", "main");
  }

  /** Waits until the screen passes `check` and returns it; on a timeout the error shows the last screen. */
  async waitForScreen(what: string, check: (screen: string) => boolean, deadlineMs?: number): Promise<string> {
    let last = "";
    try {
      return await waitFor(
        what,
        () => {
          last = this.screen();
          return check(last) && last;
        },
        deadlineMs,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; the screen was:\n${last}`);
    }
  }

  /** Copies every byte the command writes from now on (bells and escapes too, which the screen does not show) to `file`. */
  record(file: string): void {
    this.tmux("pipe-pane", "-o", "-t", "main", `cat >> '${file}'`);
  }

  /** Sends a key by tmux's name for it (C-c). */
  press(key: string): void {
    this.tmux("send-keys", "-t", "main", key);
  }

  resize(columns: number, rows: number): void {
    this.tmux("resize-window", "-t", "main", "-x", String(columns), "-y", String(rows));
  }

  kill(): void {
    try {
      this.tmux("kill-server");
    } catch {
      // Already gone with its command.
    }
  }

  private tmux(...args: string[]): string {
    return execFileSync("tmux", ["-L", this.socket, ...args], { encoding: "utf8" });
  }
}
