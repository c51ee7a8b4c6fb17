import type { PhaseName, ProgressEvent } from "@claude-bottle/core";
import { formatDuration } from "./format.js";
import { formatTable } from "./table.js";

export type TimingFormat = "table" | "json";

/** Phases that mark the agent as ready: from here on the user is working, not waiting. */
const READY_PHASES: ReadonlySet<PhaseName> = new Set(["start", "attach"]);

export interface PhaseTiming {
  phase: PhaseName;
  title: string;
  /** 0 for a top-level phase, 1 for a phase inside it, and so on. */
  depth: number;
  /** Milliseconds since the process started. */
  startMs: number;
  durationMs: number;
  /** False when the phase failed or was still running when the report was made. */
  ok: boolean;
}

export interface TimingReport {
  phases: PhaseTiming[];
  /** When the agent was ready (its start or attach began), in ms since the process started. */
  readyMs?: number;
  /** The whole run, node's own start-up included. */
  totalMs: number;
}

/** Collects phase durations from the progress events of one run. */
export class TimingRecorder {
  private readonly phases: (PhaseTiming & { open: boolean })[] = [];
  private readyMs: number | undefined;

  handle(event: ProgressEvent): void {
    if (event.type === "phase-start") {
      const depth = this.phases.filter((p) => p.open).length;
      this.phases.push({ phase: event.phase, title: event.title, depth, startMs: event.at, durationMs: 0, ok: true, open: true });
      if (this.readyMs === undefined && READY_PHASES.has(event.phase)) this.readyMs = event.at;
    } else if (event.type === "phase-end") {
      const started = this.phases.findLast((p) => p.open && p.phase === event.phase);
      if (!started) return;
      started.open = false;
      started.durationMs = event.at - started.startMs;
      started.ok = event.ok;
    }
  }

  report(now = performance.now()): TimingReport {
    const phases = this.phases.map(({ open, ...timing }) =>
      open ? { ...timing, durationMs: now - timing.startMs, ok: false } : timing,
    );
    return {
      phases: phases.map((p) => ({ ...p, startMs: round(p.startMs), durationMs: round(p.durationMs) })),
      ...(this.readyMs !== undefined && { readyMs: round(this.readyMs) }),
      totalMs: round(now),
    };
  }
}

/** The report as an aligned table, or as one JSON document, for stderr. */
export function formatTiming(report: TimingReport, format: TimingFormat): string {
  if (format === "json") return `${JSON.stringify(report)}\n`;
  const rows = report.phases.map((p) => [
    `${"  ".repeat(p.depth)}${p.phase}`,
    formatDuration(p.durationMs),
    p.ok ? p.title : `${p.title} (failed)`,
  ]);
  if (report.readyMs !== undefined) rows.push(["ready after", formatDuration(report.readyMs), "from the command to the agent starting"]);
  rows.push(["total", formatDuration(report.totalMs), "node start-up included"]);
  return formatTable(["PHASE", "TIME", "WHAT"], rows, [1]);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
