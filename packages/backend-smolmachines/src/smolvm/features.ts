import { BottleError } from "@claude-bottle/core";
import { SmolmachinesErrorCodes } from "../errors.js";
import { execa } from "execa";
import type { Smolvm } from "./locate.js";
import { compareVersions } from "./version.js";

/**
 * What a smolvm can do beyond what every supported release (1.9.0 and newer)
 * has. Each is read from the `--help` of the subcommand that carries it, so a
 * release that gained a flag is recognised whatever its number; see SMOLVM.md
 * ("Features, and the releases that have them").
 */
export type SmolvmFeature =
  | "allowHost"
  | "allowCidr"
  | "allowHostPattern"
  | "credential"
  | "execStream"
  | "stopOnExit"
  | "hostLoopbackFloor";

export interface SmolvmFeatureInfo {
  /** The flag as a user would type it, with its subcommand. */
  readonly flag: string;
  /** What it gives. */
  readonly description: string;
  /**
   * The first release known to have it. For a flag that appeared between two
   * releases whose source was read, this is the later one (an upper bound).
   */
  readonly since: string;
  /** The subcommand whose `--help` lists the flag. */
  readonly probe: "machine create" | "machine run" | "machine exec";
  readonly pattern: RegExp;
}

export const SMOLVM_FEATURES: Readonly<Record<SmolvmFeature, SmolvmFeatureInfo>> = {
  allowHost: {
    flag: "machine create --allow-host",
    description: "egress limited to named hosts",
    since: "1.9.0",
    probe: "machine create",
    pattern: /^\s*--allow-host\s+<HOSTNAME>/m,
  },
  allowCidr: {
    flag: "machine create --allow-cidr",
    description: "egress limited to address ranges",
    since: "1.9.0",
    probe: "machine create",
    pattern: /^\s*--allow-cidr\s+<CIDR>/m,
  },
  allowHostPattern: {
    flag: "machine create --allow-host-pattern",
    description: "egress limited to host patterns (*.domain)",
    since: "1.22.0",
    probe: "machine create",
    pattern: /^\s*--allow-host-pattern\s+<PATTERN>/m,
  },
  credential: {
    flag: "machine create --credential",
    description: "credentials the guest uses without seeing them",
    since: "1.22.0",
    probe: "machine create",
    pattern: /^\s*--credential\s+<NAME=ENV_VAR@HOST>/m,
  },
  execStream: {
    flag: "machine exec --stream",
    description: "exec output as it is printed",
    since: "1.9.0",
    probe: "machine exec",
    pattern: /^\s*--stream\b/m,
  },
  stopOnExit: {
    flag: "machine create --stop-on-exit",
    description: "a machine that stops when its workload ends",
    since: "1.23.0",
    probe: "machine create",
    pattern: /^\s*--stop-on-exit\b/m,
  },
  hostLoopbackFloor: {
    flag: "machine run --allow-host-loopback",
    description:
      "guests, pack create's helper VM included, are denied the host's loopback unless SMOLVM_ALLOW_HOST_LOOPBACK=1 (a relaxation this backend applies to pack create only)",
    since: "1.17.0",
    probe: "machine run",
    pattern: /^\s*--allow-host-loopback\b/m,
  },
};

/** What one smolvm executable can do, probed once per executable and version. */
export interface SmolvmFeatures {
  readonly path: string;
  readonly version: string;
  /** Whether each feature is there. */
  readonly has: Readonly<Record<SmolvmFeature, boolean>>;
  /** How it was told: from `--help`, or from the version number when `--help` could not be read. */
  readonly source: "help" | "version";
  /** The features this smolvm lacks, each with the release that has it. */
  missing(): { feature: SmolvmFeature; info: SmolvmFeatureInfo }[];
}

const PROBES = ["machine create", "machine run", "machine exec"] as const;
const cache = new Map<string, Promise<SmolvmFeatures>>();

/** Reads the help of the subcommands that carry the features; cached per executable path and version. */
export function probeSmolvmFeatures(smolvm: Pick<Smolvm, "path" | "version">): Promise<SmolvmFeatures> {
  const key = `${smolvm.path}\0${smolvm.version}`;
  let pending = cache.get(key);
  if (!pending) {
    pending = readFeatures(smolvm);
    cache.set(key, pending);
    // A probe that failed outright is not kept: the next caller tries again.
    pending.catch(() => cache.delete(key));
  }
  return pending;
}

/** Forgets every probe (tests that swap the executable behind a path). */
export function forgetSmolvmFeatures(): void {
  cache.clear();
}

async function readFeatures(smolvm: Pick<Smolvm, "path" | "version">): Promise<SmolvmFeatures> {
  const helps = await Promise.all(
    PROBES.map(async (subcommand) => {
      const result = await execa(smolvm.path, [...subcommand.split(" "), "--help"], {
        reject: false,
        timeout: 15_000,
        stdin: "ignore",
        // smolvm reads a default machine name from here; it must not steer a probe.
        env: { SMOLVM_MACHINE_NAME: undefined },
      });
      return result.exitCode === 0 ? `${result.stdout}` : undefined;
    }),
  );
  const help = Object.fromEntries(PROBES.map((p, i) => [p, helps[i]])) as Record<(typeof PROBES)[number], string | undefined>;
  const readable = helps.every((h) => h !== undefined && /--help/.test(h));
  const has = Object.fromEntries(
    (Object.entries(SMOLVM_FEATURES) as [SmolvmFeature, SmolvmFeatureInfo][]).map(([feature, info]) => [
      feature,
      readable ? info.pattern.test(help[info.probe]!) : compareVersions(smolvm.version, info.since) >= 0,
    ]),
  ) as Record<SmolvmFeature, boolean>;
  return featuresOf(smolvm, has, readable ? "help" : "version");
}

/** A feature set from known answers (tests, and callers that know their smolvm). */
export function featuresOf(
  smolvm: Pick<Smolvm, "path" | "version">,
  has: Record<SmolvmFeature, boolean>,
  source: SmolvmFeatures["source"] = "help",
): SmolvmFeatures {
  return {
    path: smolvm.path,
    version: smolvm.version,
    has,
    source,
    missing: () =>
      (Object.keys(SMOLVM_FEATURES) as SmolvmFeature[])
        .filter((feature) => !has[feature] && feature !== "hostLoopbackFloor")
        .map((feature) => ({ feature, info: SMOLVM_FEATURES[feature] })),
  };
}

function upgradeLine(platform: NodeJS.Platform): string {
  return platform === "darwin" ? "brew upgrade smol-machines/tap/smolvm" : "curl -sSL https://smolmachines.com/install.sh | bash";
}

/**
 * SMOLVM_VERSION for a feature this smolvm lacks: what needs it, which flag,
 * the release that has it, and how to upgrade.
 */
export function smolvmFeatureError(
  features: Pick<SmolvmFeatures, "path" | "version">,
  feature: SmolvmFeature,
  neededFor: string,
  platform: NodeJS.Platform = process.platform,
): BottleError {
  const info = SMOLVM_FEATURES[feature];
  return new BottleError(
    SmolmachinesErrorCodes.SMOLVM_VERSION,
    `${neededFor} needs \`smolvm ${info.flag}\` (${info.description}), which smolvm ${features.version} at ${features.path} does not have: smolvm ${info.since} or newer has it.`,
    { hint: `Upgrade smolvm to ${info.since} or newer (${upgradeLine(platform)}), or set CLAUDE_BOTTLE_SMOLVM to a newer smolvm.` },
  );
}

/** Throws {@link smolvmFeatureError} unless the smolvm has `feature`. */
export function requireSmolvmFeature(features: SmolvmFeatures, feature: SmolvmFeature, neededFor: string, platform?: NodeJS.Platform): void {
  if (!features.has[feature]) throw smolvmFeatureError(features, feature, neededFor, platform);
}
