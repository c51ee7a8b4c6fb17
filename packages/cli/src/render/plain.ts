import type { ProgressEvent } from "@claude-bottle/core";
import type { ProgressRenderer, RendererOptions } from "./progress.js";

/**
 * One line when each phase starts, for logs and CI: readable in order, no
 * escape codes, and it shows what a slow step is while it is still running.
 */
export class PlainRenderer implements ProgressRenderer {
  private handedOver = false;

  constructor(private readonly options: RendererOptions) {}

  handle(event: ProgressEvent): void {
    if (this.handedOver) return;
    if (event.type === "phase-start") {
      this.log(`${event.title}...`);
      if (this.options.handOverPhases.has(event.phase)) this.handedOver = true;
    } else if (event.type === "output" && this.options.verbose) {
      this.options.stream.write(`  | ${event.line}\n`);
    }
  }

  log(line: string): void {
    this.options.stream.write(`claude-bottle: ${line}\n`);
  }

  stop(): void {}
}
