import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

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
