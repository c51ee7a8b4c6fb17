import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { BottleError, readUserConfig, type DoctorCheck } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { connectDocker, type ConnectOptions, type DockerConnection } from "@claude-bottle/docker-engine";
import { isDockerDesktop } from "@claude-bottle/docker-engine";
import { gvisorCheck } from "./isolation.js";

/** Checks what the backend needs from the engine; every finding is a check, nothing is thrown. */
export async function diagnose(given: DockerConnection | undefined, connect: ConnectOptions): Promise<DoctorCheck[]> {
  let connection = given;
  if (!connection) {
    try {
      connection = await connectDocker(connect);
    } catch (error) {
      const e = BottleError.isInstance(error) ? error : undefined;
      return [
        {
          name: "engine reachable",
          ok: false,
          detail: e?.message ?? String(error),
          ...(e?.hint ? { hint: e.hint } : {}),
        },
      ];
    }
  }
  const { docker, source } = connection;
  const checks: DoctorCheck[] = [{ name: "engine reachable", ok: true, detail: source }];
  checks.push(await versionCheck(docker));
  checks.push(await kindCheck(docker));
  // Missing is a failure only when the user's config makes gVisor every bottle's default.
  const required = (await readUserConfig(connect.env ?? process.env).catch(() => ({ isolation: undefined }))).isolation === "gvisor";
  checks.push(await gvisorCheck(connection.api, required));
  const socketPath = (docker.modem as { socketPath?: unknown }).socketPath;
  if (typeof socketPath === "string" && !socketPath.startsWith("//")) checks.push(await socketCheck(socketPath));
  return checks;
}

async function versionCheck(docker: Dockerode): Promise<DoctorCheck> {
  try {
    const version = await docker.version();
    return { name: "engine version", ok: true, detail: `Docker ${version.Version}, API ${version.ApiVersion}` };
  } catch (error) {
    return { name: "engine version", ok: false, detail: (error as Error).message, hint: "Upgrade or restart the engine." };
  }
}

async function kindCheck(docker: Dockerode): Promise<DoctorCheck> {
  try {
    const desktop = await isDockerDesktop(docker);
    return { name: "engine kind", ok: true, detail: desktop ? "Docker Desktop (the engine runs in a VM)" : "native engine" };
  } catch (error) {
    return { name: "engine kind", ok: false, detail: (error as Error).message };
  }
}

async function socketCheck(path: string): Promise<DoctorCheck> {
  try {
    await access(path, constants.R_OK | constants.W_OK);
    return { name: "socket permissions", ok: true, detail: `${path} is readable and writable by this user` };
  } catch {
    return {
      name: "socket permissions",
      ok: false,
      detail: `${path} may not be opened by this user`,
      hint: "Add yourself to the docker group (sudo usermod -aG docker $USER, then log in again).",
    };
  }
}
