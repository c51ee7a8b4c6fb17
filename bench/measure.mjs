// Timing primitives for the benchmark: run a command N times after a warm-up
// and keep every sample, so medians and spreads come from the same run.
import { spawnSync } from "node:child_process";

/** Runs `argv` once; throws with its output when it fails, so a broken case never reports a time. */
export function runOnce(argv, options = {}) {
  const started = performance.now();
  const result = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...options });
  const elapsed = performance.now() - started;
  if (result.status !== 0) {
    throw new Error(`${argv.join(" ")} exited ${result.status}: ${result.stderr || result.stdout}`);
  }
  return { ms: elapsed, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Samples several commands in turns (A, B, C, A, B, C, ...) rather than one
 * after the other, so a machine that slows down or speeds up during the run
 * shifts a case and its baseline alike. Each entry: [argv, options].
 */
export function sampleInTurns(entries, { runs, warmup = 1 }) {
  for (let i = 0; i < warmup; i++) for (const [argv, options] of entries) runOnce(argv, options);
  const samples = entries.map(() => []);
  for (let i = 0; i < runs; i++) entries.forEach(([argv, options], j) => samples[j].push(runOnce(argv, options).ms));
  return samples;
}

export function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], runs: sorted.length };
}
