import { connectDocker, inspectImage } from "@claude-bottle/backend-docker";
import { BottleError, type BackendContext, type DoctorCheck } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { registryImage } from "./local-registry.js";
import { checkKvm } from "./smolvm/kvm.js";
import { findSmolvmExecutable } from "./smolvm/locate.js";
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

/** Everything prepare and launch need, each reported on its own; never throws. */
export async function smolmachinesDoctor(options: SmolmachinesOptions, ctx: BackendContext): Promise<DoctorCheck[]> {
  const platform = process.platform;
  let testDouble = false;
  const checks: DoctorCheck[] = [
    await probe("smolvm", async () => {
      const path = findSmolvmExecutable({ path: options.smolvm, env: ctx.env, cwd: ctx.cwd });
      const found = await readSmolvmVersion(path, platform);
      testDouble = found.testDouble;
      return `smolvm ${found.version}${found.testDouble ? " (a test double)" : ""} at ${path}`;
    }),
  ];
  if (platform === "linux" && !testDouble) {
    checks.push(await probe("kvm", () => (checkKvm({ platform, device: options.kvmDevice }), "KVM is usable")));
  }
  let docker: Dockerode | undefined;
  checks.push(
    await probe("docker", async () => {
      const connection = await connectDocker({ env: ctx.env });
      docker = connection.docker;
      return `Docker engine at ${connection.source}`;
    }),
  );
  if (docker) {
    const engine = docker;
    const image = registryImage({ image: options.registryImage, env: ctx.env });
    checks.push(
      await probe("registry image", async () =>
        (await inspectImage(engine, image)) ? `${image} is present` : `${image} will be pulled at the first pack`,
      ),
    );
  }
  return checks;
}
