import { CommanderError } from "commander";
import { ExitCodes } from "./exit-codes.js";
import { watchInterrupts } from "./interrupt.js";
import { buildProgram, normalizeTimingFlag, type Outcome } from "./program.js";

/**
 * Runs claude-bottle with `argv` (the arguments after the executable) and
 * resolves with the exit code; it never calls process.exit, so it can be
 * driven from another program.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const interrupts = watchInterrupts();
  const outcome: Outcome = { exitCode: ExitCodes.OK };
  try {
    await buildProgram(interrupts.signal, outcome).parseAsync(normalizeTimingFlag(argv), { from: "user" });
    return interrupts.fired ? ExitCodes.INTERRUPTED : outcome.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the message already; help and version end here too, successfully.
      return error.exitCode === 0 ? ExitCodes.OK : ExitCodes.USAGE;
    }
    if (interrupts.fired) return ExitCodes.INTERRUPTED;
    // Imported only now: the report needs core, which a clean run of --help never loads.
    const { reportError } = await import("./errors/report.js");
    return reportError(error, { debug: debugRequested(argv), stream: process.stderr });
  } finally {
    interrupts.dispose();
  }
}

/** Read from argv rather than commander's result, which a parse error never produces. */
function debugRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).includes("--debug");
}
