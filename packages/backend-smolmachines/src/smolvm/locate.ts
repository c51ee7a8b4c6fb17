import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { BottleError } from "@claude-bottle/core";
import { SmolmachinesErrorCodes } from "../errors.js";
import { SMOLVM_ENV, smolvmInstallHint } from "./install-hint.js";
import { checkKvm } from "./kvm.js";
import { readSmolvmVersion } from "./version.js";

export { SMOLVM_ENV };

/** A smolvm that was found, answers `--version` with a supported version, and can run VMs here. */
export interface Smolvm {
  path: string;
  version: string;
}

export interface LocateSmolvmOptions {
  /** An explicit executable; wins over `CLAUDE_BOTTLE_SMOLVM` and PATH. */
  path?: string;
  /** Where `CLAUDE_BOTTLE_SMOLVM` and PATH are read. Default: `process.env` (PATH falls back to it too). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default: `process.platform`. */
  platform?: NodeJS.Platform;
  /** The KVM device smolvm needs on Linux. Default `/dev/kvm`. */
  kvmDevice?: string;
  /** Directory relative paths are resolved against. Default: `process.cwd()`. */
  cwd?: string;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The smolvm executable: the explicit path, else `CLAUDE_BOTTLE_SMOLVM`, else the first on PATH. */
export function findSmolvmExecutable(options: LocateSmolvmOptions = {}): string {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const named = options.path ?? env[SMOLVM_ENV]?.trim();
  if (named) {
    const path = isAbsolute(named) ? named : resolve(options.cwd ?? process.cwd(), named);
    if (isExecutableFile(path)) return path;
    const source = options.path ? "The smolvm option" : SMOLVM_ENV;
    throw new BottleError(SmolmachinesErrorCodes.SMOLVM_NOT_FOUND, `${source} names ${path}, which is not an executable file.`, {
      hint: smolvmInstallHint(platform),
    });
  }
  const searchPath = env.PATH ?? process.env.PATH ?? "";
  const names = platform === "win32" ? ["smolvm.exe", "smolvm"] : ["smolvm"];
  for (const dir of searchPath.split(delimiter).filter(Boolean)) {
    for (const name of names) {
      if (isExecutableFile(join(dir, name))) return join(dir, name);
    }
  }
  throw new BottleError(SmolmachinesErrorCodes.SMOLVM_NOT_FOUND, "smolvm was not found on PATH.", { hint: smolvmInstallHint(platform) });
}

/**
 * Finds smolvm and checks that it can be used: a supported version and, on
 * Linux, a usable KVM device. A test double says so in its `--version`; it
 * runs no VM, so it needs no KVM. A real smolvm never says it.
 */
export async function locateSmolvm(options: LocateSmolvmOptions = {}): Promise<Smolvm> {
  const platform = options.platform ?? process.platform;
  const path = findSmolvmExecutable(options);
  const { version, testDouble } = await readSmolvmVersion(path, platform);
  if (!testDouble) checkKvm({ platform, device: options.kvmDevice });
  return { path, version };
}
