import { access, constants, stat } from "node:fs/promises";
import { delimiter, isAbsolute, join } from "node:path";
import { BottleError } from "@claude-bottle/core";
import { BubblewrapErrorCodes, BWRAP_ENV, INSTALL_HINT } from "./errors.js";

/** Searched when the environment has no PATH at all: where distributions install bwrap. */
const FALLBACK_PATH = "/usr/local/bin:/usr/bin:/bin";

/**
 * Which bwrap to run: the factory option, else CLAUDE_BOTTLE_BWRAP, else
 * `bwrap`. A value with a slash is a path; a bare name is searched on PATH.
 */
export function bwrapRequest(env: Readonly<Record<string, string | undefined>>, explicit?: string): string {
  return explicit?.trim() || env[BWRAP_ENV]?.trim() || "bwrap";
}

/** The absolute path of the requested bwrap, or undefined when it is not an executable file. */
export async function locateBwrap(
  env: Readonly<Record<string, string | undefined>>,
  explicit?: string,
): Promise<string | undefined> {
  const request = bwrapRequest(env, explicit);
  if (request.includes("/")) return (await isExecutableFile(request)) ? request : undefined;
  for (const dir of (env.PATH ?? FALLBACK_PATH).split(delimiter)) {
    // Relative PATH entries would depend on the directory the CLI runs in: skip them.
    if (!isAbsolute(dir)) continue;
    const candidate = join(dir, request);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** locateBwrap, or a BUBBLEWRAP_NOT_FOUND error that says where it looked and how to install it. */
export async function requireBwrap(env: Readonly<Record<string, string | undefined>>, explicit?: string): Promise<string> {
  const found = await locateBwrap(env, explicit);
  if (found) return found;
  const request = bwrapRequest(env, explicit);
  const where = request.includes("/") ? `at ${request}` : `on PATH (looked for "${request}")`;
  throw new BottleError(BubblewrapErrorCodes.BUBBLEWRAP_NOT_FOUND, `bubblewrap was not found ${where}.`, {
    hint: INSTALL_HINT,
  });
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
