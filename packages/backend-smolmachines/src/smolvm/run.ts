import { BottleError, abortedError, throwIfAborted } from "@claude-bottle/core";
import { SmolmachinesErrorCodes } from "../errors.js";
import { execa } from "execa";
import { smolvmInstallHint } from "./install-hint.js";
import type { Smolvm } from "./locate.js";

export interface RunSmolvmOptions {
  /**
   * Variables added to smolvm's environment: the values of `-e NAME`
   * passthroughs travel here, never in the arguments.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** Kills smolvm and throws ABORTED when it fires. */
  signal?: AbortSignal;
  /** Each line smolvm prints on stdout, as it prints it (progress of a pack). */
  onStdoutLine?: (line: string) => void;
}

/**
 * The command line as a user could paste it. Arguments never hold secret
 * values (those go through the environment), so it is safe to show.
 */
export function smolvmCommandLine(smolvm: Pick<Smolvm, "path">, args: readonly string[]): string {
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);
  return [smolvm.path, ...args].map(quote).join(" ");
}

/** The `Error: ...` lines of smolvm's stderr (clap's own usage errors say `error:`). */
export function smolvmErrorLines(stderr: string): string[] {
  return stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => /^error:/i.test(line));
}

/** A failed smolvm command as a BottleError: what smolvm said, and the command line that failed. */
export function smolvmFailure(smolvm: Pick<Smolvm, "path">, args: readonly string[], stderr: string, exitCode: number | undefined): BottleError {
  const errors = smolvmErrorLines(stderr);
  const said = errors.length > 0 ? errors.join("\n") : stderr.trim().split("\n").slice(-5).join("\n") || "no error message";
  return new BottleError(
    SmolmachinesErrorCodes.SMOLVM_FAILED,
    `smolvm ${args.slice(0, 2).join(" ")} failed${exitCode === undefined ? "" : ` (exit ${exitCode})`}:\n${said}\nCommand: ${smolvmCommandLine(smolvm, args)}`,
    { hint: "The lines above are smolvm's own; run the command by hand to see all of its output." },
  );
}

/** Runs one smolvm command to completion and returns its stdout; a non-zero exit throws SMOLVM_FAILED. */
export async function runSmolvm(smolvm: Smolvm, args: readonly string[], options: RunSmolvmOptions = {}): Promise<string> {
  if (options.signal) throwIfAborted(options.signal);
  const onLine = options.onStdoutLine;
  const result = await execa(smolvm.path, args, {
    reject: false,
    stdin: "ignore",
    // smolvm takes a default machine name from SMOLVM_MACHINE_NAME (newer releases); every call here names its machine.
    env: { ...options.env, SMOLVM_MACHINE_NAME: undefined },
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    ...(onLine
      ? {
          stdout: [
            function* (line: unknown) {
              onLine(String(line));
              yield line;
            },
          ],
        }
      : {}),
  });
  if (options.signal?.aborted) throw abortedError(options.signal.reason);
  if (result.failed && result.exitCode === undefined) {
    if (result.code === "ENOENT" || result.code === "EACCES") {
      throw new BottleError(SmolmachinesErrorCodes.SMOLVM_NOT_FOUND, `Cannot run ${smolvm.path}: ${result.code}.`, {
        hint: smolvmInstallHint(process.platform),
      });
    }
    throw smolvmFailure(smolvm, args, `${result.stderr}` || (result.shortMessage ?? ""), undefined);
  }
  if (result.exitCode !== 0) throw smolvmFailure(smolvm, args, `${result.stderr}`, result.exitCode);
  return `${result.stdout}`;
}
