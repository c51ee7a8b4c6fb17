import type { PhaseName, ProgressEvent } from "@claude-bottle/core";
import type { Ora } from "ora";
import { describeProgress, formatDuration } from "./format.js";
import type { ProgressRenderer, RendererOptions } from "./progress.js";

interface ActivePhase {
  phase: PhaseName;
  title: string;
  startedAt: number;
  /** The latest progress message or output line: what the phase is doing right now. */
  detail?: string;
}

/** Phases shorter than this vanish when done; longer ones leave a ✔ line saying what took the time. */
const PERSIST_AFTER_MS = 1000;

/**
 * How long work must have been going on before a spinner is worth showing.
 * ora and its dependencies take 60 to 120 ms to load, more than a whole warm
 * start takes before the agent has the terminal: they are loaded only once
 * the work has lasted this long, so a warm start never pays for them.
 */
const SPINNER_AFTER_MS = 150;

/**
 * A spinner naming the innermost running phase and its live detail (build
 * step, bytes pushed). Phases nest: when an inner one ends, the outer one's
 * title comes back.
 */
export class SpinnerRenderer implements ProgressRenderer {
  /** Undefined until work has gone on for SPINNER_AFTER_MS. */
  private spinner: Ora | undefined;
  private loadTimer: NodeJS.Timeout | undefined;
  private readonly active: ActivePhase[] = [];
  /** Set when the agent takes the terminal or the host stops us: no spinner may start after it. */
  private done = false;

  constructor(private readonly options: RendererOptions) {}

  handle(event: ProgressEvent): void {
    if (this.done) return;
    switch (event.type) {
      case "phase-start":
        if (this.options.handOverPhases.has(event.phase)) {
          this.stop();
          return;
        }
        this.active.push({ phase: event.phase, title: event.title, startedAt: event.at });
        this.show();
        return;
      case "phase-end":
        this.end(event.phase, event.ok, event.at);
        return;
      case "progress":
        this.setDetail(event.phase, describeProgress(event.message, event.current, event.total));
        return;
      case "output":
        if (this.options.verbose) this.printAbove(`  | ${event.line}`);
        else this.setDetail(event.phase, event.line.trim());
        return;
    }
  }

  log(line: string): void {
    this.printAbove(`claude-bottle: ${line}`);
  }

  stop(): void {
    this.done = true;
    clearTimeout(this.loadTimer);
    this.spinner?.stop();
  }

  /** Loads ora once a step has lasted SPINNER_AFTER_MS, then shows what is running by then. */
  private spinnerSoon(): void {
    if (this.loadTimer || this.done) return;
    this.loadTimer = setTimeout(() => {
      import("ora").then(
        ({ default: ora }) => {
          if (this.done) return;
          // discardStdin would put stdin in raw mode behind the backend's back and
          // swallow Ctrl-C; the terminal's own SIGINT is what aborts the work.
          this.spinner = ora({ stream: this.options.stream, discardStdin: false });
          this.show();
        },
        // Without its spinner the work goes on, quietly, as it would in a fast start.
        () => {},
      );
    }, SPINNER_AFTER_MS);
    // Waiting to show a spinner is no reason to keep the process alive.
    this.loadTimer.unref();
  }

  private end(phase: PhaseName, ok: boolean, at: number): void {
    const index = this.active.findLastIndex((p) => p.phase === phase);
    if (index === -1) return;
    const [ended] = this.active.splice(index, 1);
    const took = at - ended!.startedAt;
    // Before the spinner there is nothing on screen to mark: the error report says what failed.
    if (!ok) this.spinner?.fail(ended!.title);
    else if (took >= PERSIST_AFTER_MS) this.spinner?.succeed(`${ended!.title} (${formatDuration(took)})`);
    this.show();
  }

  /** Writes a line where the spinner is and redraws the spinner under it. */
  private printAbove(line: string): void {
    const spinning = this.spinner?.isSpinning === true;
    if (spinning) this.spinner!.clear();
    this.options.stream.write(`${line}\n`);
    if (spinning) this.spinner!.render();
  }

  private setDetail(phase: PhaseName, detail: string): void {
    const target = this.active.findLast((p) => p.phase === phase) ?? this.active.at(-1);
    if (!target || !detail) return;
    target.detail = detail;
    this.show();
  }

  private show(): void {
    const current = this.active.at(-1);
    if (!this.spinner) {
      if (current) this.spinnerSoon();
      return;
    }
    if (!current) {
      this.spinner.stop();
      return;
    }
    const text = current.detail ? `${current.title}: ${current.detail}` : current.title;
    // One line only: a wrapped spinner line leaves debris when it is redrawn.
    this.spinner.text = truncate(text, (this.options.stream.columns || 80) - 3);
    if (!this.spinner.isSpinning) this.spinner.start();
  }
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}
