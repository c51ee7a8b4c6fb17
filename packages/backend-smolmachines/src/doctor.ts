import { connectDocker, inspectImage } from "@claude-bottle/docker-engine";
import { BottleError, type BackendContext, type DoctorCheck } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { DOCKER_DESKTOP_HOST_RANGE } from "./registry/desktop-insecure-registry.js";
import { registryImage } from "./registry/local-registry.js";
import { checkKvm } from "./smolvm/kvm.js";
import { findSmolvmExecutable } from "./smolvm/locate.js";
import { probeSmolvmFeatures, SMOLVM_FEATURES, type SmolvmFeatures } from "./smolvm/features.js";
import { readSmolvmVersion } from "./smolvm/version.js";
import type { SmolmachinesOptions } from "./backend.js";

/** Runs `check`, turning a thrown BottleError into a failed check with its hint. */
async function probe(name: string, check: () => Promise<string> | string): Promise<DoctorCheck> {
  try {
    return { name, ok: true, detail: await check() };
  } catch (error) {
    const hint = BottleError.isInstance(error) ? error.hint : undefined;
    return { name, ok: false, detail: (error as Error).message, ...(hint ? { hint } : {}) };
  }
}

/** The addresses `host.docker.internal` has in Docker Desktop's default network (current, then older releases). */
const DESKTOP_HOST_ADDRESSES = ["192.168.65.254", "192.168.65.2"];

function cidrContains(cidr: string, address: string): boolean {
  const [network, bits] = cidr.split("/");
  const toNumber = (ip: string) => ip.split(".").reduce((n, part) => n * 256 + Number(part), 0);
  const prefix = Number(bits);
  if (!network || !/^\d+\.\d+\.\d+\.\d+$/.test(network) || !(prefix >= 0 && prefix <= 32)) return false;
  const mask = prefix === 0 ? 0 : 2 ** 32 - 2 ** (32 - prefix);
  return (toNumber(network) & mask) >>> 0 === (toNumber(address) & mask) >>> 0;
}

/**
 * On Docker Desktop, whether the engine will push to `host.docker.internal`
 * over plain HTTP (see desktop-insecure-registry.ts); nothing on other engines.
 */
async function desktopPlainHttpCheck(docker: Dockerode, dockerDesktop: boolean | undefined): Promise<DoctorCheck | undefined> {
  const info = (await docker.info().catch(() => undefined)) as
    | { OperatingSystem?: string; RegistryConfig?: { InsecureRegistryCIDRs?: string[] | null } }
    | undefined;
  if (!(dockerDesktop ?? info?.OperatingSystem === "Docker Desktop")) return undefined;
  const cidrs = info?.RegistryConfig?.InsecureRegistryCIDRs ?? [];
  const covered = cidrs.some((cidr) => DESKTOP_HOST_ADDRESSES.some((address) => cidrContains(cidr, address)));
  return covered
    ? { name: "plain-HTTP push", ok: true, detail: `host.docker.internal is in the engine's insecure registries (${cidrs.join(", ")})` }
    : {
        name: "plain-HTTP push",
        ok: false,
        detail: "Docker Desktop will refuse to push to the temporary local registry over plain HTTP.",
        hint: `Docker Desktop → Settings → Docker Engine, add "insecure-registries": ["${DOCKER_DESKTOP_HOST_RANGE}"], then Apply & restart.`,
      };
}

/** Everything prepare and launch need, each reported on its own; never throws. */
export async function smolmachinesDoctor(options: SmolmachinesOptions, ctx: BackendContext): Promise<DoctorCheck[]> {
  const platform = process.platform;
  let testDouble = false;
  let found: { path: string; version: string } | undefined;
  const checks: DoctorCheck[] = [
    await probe("smolvm", async () => {
      const path = findSmolvmExecutable({ path: options.smolvm, env: ctx.env, cwd: ctx.cwd });
      const read = await readSmolvmVersion(path, platform);
      testDouble = read.testDouble;
      found = { path, version: read.version };
      return `smolvm ${read.version}${read.testDouble ? " (a test double, which runs no VM)" : ""} at ${path}`;
    }),
  ];
  if (found) {
    const smolvm = found;
    checks.push(await probe("smolvm features", async () => featuresDetail(await probeSmolvmFeatures(smolvm), platform)));
  }
  if (platform === "linux" && !testDouble) {
    checks.push(await probe("kvm", () => (checkKvm({ platform, device: options.kvmDevice }), "KVM is usable")));
  }
  let docker: Dockerode | undefined = options.docker;
  if (!docker) {
    checks.push(
      await probe("docker", async () => {
        const connection = await connectDocker({ env: ctx.env });
        docker = connection.docker;
        return `Docker engine at ${connection.source}`;
      }),
    );
  }
  if (docker) {
    const engine = docker;
    const image = registryImage({ image: options.registryImage, env: ctx.env });
    checks.push(
      await probe("registry image", async () =>
        (await inspectImage(engine, image)) ? `${image} is present` : `${image} will be pulled at the first pack`,
      ),
    );
    const desktop = await desktopPlainHttpCheck(engine, options.dockerDesktop);
    if (desktop) checks.push(desktop);
  }
  return checks;
}

/**
 * What this smolvm has and lacks among the features later than 1.9 (see
 * SMOLVM.md). Nothing an agent file asks for today needs them, so a lack is
 * reported, with the release that has each, rather than failed.
 */
function featuresDetail(features: SmolvmFeatures, platform: NodeJS.Platform): string {
  const missing = features.missing();
  const lacks = missing.map(({ info }) => `${info.flag} (${info.description}; smolvm ${info.since}+)`);
  const floor = features.has.hostLoopbackFloor
    ? `its guests are denied the host's loopback, so pack create runs with SMOLVM_ALLOW_HOST_LOOPBACK=1 (that call only)`
    : "its guests reach the host's loopback (no egress floor for it)";
  const how = features.source === "help" ? "read from --help" : "inferred from the version (--help was unreadable)";
  const upgrade = platform === "darwin" ? "brew upgrade smol-machines/tap/smolvm" : "curl -sSL https://smolmachines.com/install.sh | bash";
  return [
    missing.length === 0 ? `has every feature this backend knows (${Object.keys(SMOLVM_FEATURES).length - 1})` : `lacks ${lacks.join(", ")}`,
    floor,
    how + (missing.length > 0 ? `; to get them: ${upgrade}` : ""),
  ].join("; ");
}
