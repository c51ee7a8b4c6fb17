import type { ProgressRenderer } from "./progress.js";

/** Shows no progress, only the messages meant for the user. */
export class QuietRenderer implements ProgressRenderer {
  constructor(private readonly stream: NodeJS.WritableStream) {}

  handle(): void {}

  log(line: string): void {
    this.stream.write(`claude-bottle: ${line}\n`);
  }

  stop(): void {}
}
