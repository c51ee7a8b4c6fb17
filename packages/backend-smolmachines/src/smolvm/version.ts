import { BottleError } from "@claude-bottle/core";
import { SmolmachinesErrorCodes } from "../errors.js";
import { execa } from "execa";
import { smolvmInstallHint } from "./install-hint.js";

/** The oldest smolvm this backend supports (SMOLVM.md, "Supported releases"). */
export const MINIMUM_SMOLVM_VERSION = "1.9.0";

export interface SmolvmVersion {
  version: string;
  /** The executable says it is a test double: it imitates smolvm without running VMs. */
  testDouble: boolean;
}

/** Reads clap's `smolvm 1.9.2` line; anything after the version is kept only to spot a test double. */
export function parseSmolvmVersion(output: string): SmolvmVersion | undefined {
  const match = /^smolvm\s+v?(\d+\.\d+\.\d+)(?:[-+][0-9A-Za-z.-]+)?(.*)$/m.exec(output.trim());
  if (!match) return undefined;
  return { version: match[1]!, testDouble: /test double/i.test(match[2] ?? "") };
}

/** Negative, zero or positive as `a` is older than, equal to or newer than `b` (plain x.y.z). */
export function compareVersions(a: string, b: string): number {
  const [x, y] = [a, b].map((v) => v.split(".").map(Number));
  for (let i = 0; i < 3; i++) {
    const difference = (x![i] ?? 0) - (y![i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** Runs `smolvm --version` and refuses an unparseable answer or a version older than the minimum. */
export async function readSmolvmVersion(path: string, platform: NodeJS.Platform = process.platform): Promise<SmolvmVersion> {
  const result = await execa(path, ["--version"], { reject: false, timeout: 15_000, stdin: "ignore" });
  if (result.failed && (result.code === "ENOENT" || result.code === "EACCES")) {
    throw new BottleError(SmolmachinesErrorCodes.SMOLVM_NOT_FOUND, `Cannot run ${path}: ${result.code}.`, { hint: smolvmInstallHint(platform) });
  }
  const output = `${result.stdout}`.trim();
  const parsed = result.exitCode === 0 ? parseSmolvmVersion(output) : undefined;
  const upgrade =
    platform === "darwin" ? "brew upgrade smol-machines/tap/smolvm" : "curl -sSL https://smolmachines.com/install.sh | bash";
  if (!parsed) {
    const said = output || `${result.stderr}`.trim() || `exit ${result.exitCode}`;
    throw new BottleError(
      SmolmachinesErrorCodes.SMOLVM_VERSION,
      `Cannot tell which smolvm ${path} is: \`smolvm --version\` said "${said.split("\n")[0]}". smolvm ${MINIMUM_SMOLVM_VERSION} or newer is needed.`,
      { hint: `Install smolvm ${MINIMUM_SMOLVM_VERSION} or newer (${upgrade}).` },
    );
  }
  if (compareVersions(parsed.version, MINIMUM_SMOLVM_VERSION) < 0) {
    throw new BottleError(
      SmolmachinesErrorCodes.SMOLVM_VERSION,
      `smolvm ${parsed.version} at ${path} is too old: smolvm ${MINIMUM_SMOLVM_VERSION} or newer is needed.`,
      { hint: `Upgrade smolvm (${upgrade}).` },
    );
  }
  return parsed;
}
