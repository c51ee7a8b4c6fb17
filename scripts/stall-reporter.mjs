// A vitest reporter that ends a run whose test worker has stopped making progress.
//
// Vitest times out tests and hooks, but nothing covers a worker that hangs while it loads a
// file or between files (a forks-pool worker once sat idle for 14 minutes here with no test
// running). Every reporter event re-arms a timer; when it fires, this prints which file and
// which test were running and what the worker was waiting on (a Node diagnostic report, taken
// with the signal scripts/test arms through NODE_OPTIONS), then kills the worker so the run
// fails now, with the file named, instead of when CI's own time runs out.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** The longest file of the suite runs about a minute; six minutes without any event is a hang. */
const STALL_MS = Number(process.env.CLAUDE_BOTTLE_TEST_STALL_MS ?? 6 * 60_000);
/** Where the workers write their diagnostic reports (scripts/test sets --report-directory to it). */
const REPORTS = process.env.CLAUDE_BOTTLE_TEST_REPORTS;
/** How vitest's forks pool names its workers' processes. */
const WORKER = /^node \(vitest \d+\)/;

const duration = (ms) => (ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);

export default class StallReporter {
  files = new Map();
  tests = new Map();
  timer = undefined;

  onInit() {
    this.arm();
  }
  onTestModuleQueued(module) {
    this.files.set(module.moduleId, Date.now());
    this.arm();
  }
  onTestModuleEnd(module) {
    this.files.delete(module.moduleId);
    this.arm();
  }
  onTestCaseReady(test) {
    this.tests.set(test.id, { name: `${test.module.moduleId} > ${test.fullName}`, since: Date.now() });
    this.arm();
  }
  onTestCaseResult(test) {
    this.tests.delete(test.id);
    this.arm();
  }
  onTaskUpdate() {
    this.arm();
  }
  onUserConsoleLog() {
    this.arm();
  }
  onTestRunEnd() {
    clearTimeout(this.timer);
  }

  arm() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.stalled(), STALL_MS);
    // The reporter never keeps vitest alive by itself.
    this.timer.unref();
  }

  async stalled() {
    const lines = [`vitest (${process.cwd()}): no progress for ${duration(STALL_MS)}; the run is stopped here.`];
    for (const [file, since] of this.files) lines.push(`  file queued ${duration(Date.now() - since)} ago: ${file}`);
    for (const { name, since } of this.tests.values()) lines.push(`  test running for ${duration(Date.now() - since)}: ${name}`);
    if (this.tests.size === 0) lines.push("  no test was running: the worker hung loading a file or between files");
    const workers = this.workers();
    for (const pid of workers) lines.push(...(await this.diagnose(pid)));
    process.stderr.write(`\n${lines.join("\n")}\n`);
    for (const pid of workers) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  /** This vitest's worker processes (not the esbuild service, not the tests' own children). */
  workers() {
    let children = "";
    try {
      children = execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(process.pid)], { encoding: "utf8" });
    } catch {
      return []; // ps exits 1 when there is no child
    }
    return children
      .split("\n")
      .map((line) => line.trim().match(/^(\d+)\s+(.*)$/))
      .filter((match) => match && WORKER.test(match[2]))
      .map((match) => Number(match[1]));
  }

  /** What the worker waits on: its process tree, and the JS stack and open handles from a Node report. */
  async diagnose(pid) {
    const lines = [`  worker ${pid}:`];
    try {
      lines.push(...execFileSync("ps", ["-o", "pid,stat,wchan:20,etime,args", "--forest", "-g", String(pid)], { encoding: "utf8" }).trimEnd().split("\n").map((l) => `    ${l}`));
    } catch {
      // no process group of its own: the report below still says what it waits on
    }
    if (!REPORTS) return lines;
    try {
      process.kill(pid, "SIGUSR2");
    } catch {
      return lines;
    }
    await sleep(2_000);
    const report = existsSync(REPORTS) ? readdirSync(REPORTS).find((name) => name.includes(`.${pid}.`)) : undefined;
    if (!report) return [...lines, "    (the worker wrote no diagnostic report)"];
    const path = join(REPORTS, report);
    const { javascriptStack, libuv } = JSON.parse(readFileSync(path, "utf8"));
    rmSync(path, { force: true });
    lines.push(`    JS stack: ${javascriptStack?.message ?? "none"}`, ...(javascriptStack?.stack ?? []).slice(0, 15).map((frame) => `      ${frame}`));
    // The handles that keep the worker's event loop alive: what it is waiting for.
    for (const handle of (libuv ?? []).filter((h) => h.is_active && h.is_referenced)) {
      const where = [handle.localEndpoint, handle.remoteEndpoint].filter(Boolean).map((e) => JSON.stringify(e));
      lines.push(`    waiting on ${handle.type} ${[...where, handle.filename ?? ""].join(" ")}`.trimEnd());
    }
    return lines;
  }
}
