import { BackendCrash, BottleError, ErrorCodes } from "@claude-bottle/core";
import { ExitCodes } from "../exit-codes.js";
import { printable } from "../render/printable.js";

const ISSUES_URL = "https://github.com/claude-bottle/claude-bottle/issues";

export interface ReportOptions {
  debug: boolean;
  stream: NodeJS.WritableStream;
}

/**
 * Writes what went wrong for a person to act on, and returns the exit code.
 * A BottleError is an expected failure: one line, the hint, the stack only
 * with --debug. Anything else is a bug in claude-bottle or a backend, so the
 * stack is always shown, with where to report it.
 */
export function reportError(error: unknown, { debug, stream }: ReportOptions): number {
  if (BottleError.isInstance(error)) {
    if (error.code === ErrorCodes.ABORTED) return ExitCodes.INTERRUPTED;
    // Messages quote agent files, paths and engine output: what reaches the terminal is printable only.
    stream.write(`claude-bottle: ${printable(error.message)}\n`);
    if (error.hint) stream.write(`  hint: ${printable(error.hint)}\n`);
    if (debug) stream.write(`${printable(describeChain(error))}\n`);
    return error.code === ErrorCodes.INVALID_ARGUMENT ? ExitCodes.USAGE : ExitCodes.ERROR;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (BackendCrash.isInstance(error)) {
    // A third-party backend's own bug: its author can fix it, claude-bottle cannot.
    const { origin } = error;
    const pkg = origin.packageName ? `${origin.packageName}${origin.version ? ` ${origin.version}` : ""}` : `"${origin.name}"`;
    stream.write(`claude-bottle: the ${origin.name} backend (${printable(pkg)}) failed: ${printable(message)}\n`);
    stream.write(`${printable(describeChain(error.cause))}\n`);
    stream.write(
      origin.bugs
        ? `This is a bug in ${printable(pkg)}, not in claude-bottle; please report it at ${printable(origin.bugs)} with the output above.\n`
        : `This is a bug in ${printable(pkg)}, not in claude-bottle; please report it to that package's author with the output above.\n`,
    );
    return ExitCodes.ERROR;
  }
  stream.write(`claude-bottle: internal error: ${printable(message)}\n`);
  stream.write(`${printable(describeChain(error))}\n`);
  stream.write(`This is a bug in claude-bottle or its backend; please report it at ${ISSUES_URL} with the output above.\n`);
  return ExitCodes.ERROR;
}

/** The stack, then each cause's, since backends wrap the library error that tells the real story. */
function describeChain(error: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== undefined && !seen.has(current)) {
    seen.add(current);
    const text = current instanceof Error ? (current.stack ?? `${current.name}: ${current.message}`) : String(current);
    parts.push(parts.length ? `Caused by: ${text}` : text);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join("\n");
}
