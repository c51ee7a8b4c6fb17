import { BottleError, ErrorCodes } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { engineMessage, statusCodeOf } from "@claude-bottle/docker-engine";
import { DockerErrorCodes } from "../errors.js";

/**
 * Creates the container and returns its ID. A taken name is NAME_CONFLICT;
 * any other refusal (a mount the engine cannot make, a limit it will not set)
 * is DOCKER_CREATE_FAILED with the engine's own words, as it is the recipe or
 * the engine's setup that needs changing, not claude-bottle.
 */
export async function createContainer(api: EngineApi, options: Dockerode.ContainerCreateOptions): Promise<string> {
  const { name, ...body } = options;
  try {
    const created = await api.json<{ Id: string }>("POST", "/containers/create", { query: { name }, body });
    return created.Id;
  } catch (error) {
    if (statusCodeOf(error) === 409) {
      throw new BottleError(ErrorCodes.NAME_CONFLICT, `A container called ${name} already exists.`, {
        hint: `Remove it (claude-bottle rm ${name}) or start again, which picks a new name.`,
        cause: error,
      });
    }
    if (statusCodeOf(error) !== undefined) {
      throw new BottleError(DockerErrorCodes.DOCKER_CREATE_FAILED, `The engine refused to create the bottle: ${engineMessage(error)}`, {
        hint: "Check the agent's mounts and resources; with Docker Desktop, the workspace and mounts must be in a shared folder (Settings → Resources → File sharing).",
        cause: error,
      });
    }
    throw error;
  }
}

export async function startContainer(api: EngineApi, id: string): Promise<void> {
  try {
    await api.json("POST", `/containers/${id}/start`);
  } catch (error) {
    // The engine refuses to start a process it cannot exec: a wrong command, a missing binary.
    throw new BottleError(DockerErrorCodes.DOCKER_START_FAILED, `The bottle could not start: ${engineMessage(error)}`, {
      hint: "Check the agent's command and that the image contains it.",
      cause: error,
    });
  }
}

/**
 * Stops the container, killing it after `graceSeconds`. One that was not
 * running is fine: the engine answers 304, which is not an error to EngineApi.
 */
export async function stopContainer(api: EngineApi, id: string, graceSeconds: number): Promise<void> {
  await api.json("POST", `/containers/${id}/stop`, { query: { t: graceSeconds } });
}

export async function removeContainer(api: EngineApi, id: string, options: { force?: boolean } = {}): Promise<void> {
  await api.json("DELETE", `/containers/${id}`, { query: { force: options.force } });
}

export function inspectContainer(api: EngineApi, id: string): Promise<Dockerode.ContainerInspectInfo> {
  return api.json("GET", `/containers/${id}/json`);
}

/** The attach stream of a container: its output, and its stdin when it has one open. */
export function attachContainer(api: EngineApi, id: string, stdin: boolean): Promise<NodeJS.ReadWriteStream> {
  return api.hijack(`/containers/${id}/attach`, { query: { stream: true, stdin, stdout: true, stderr: true } });
}

export async function resizeContainer(api: EngineApi, id: string, size: { h: number; w: number }): Promise<void> {
  await api.json("POST", `/containers/${id}/resize`, { query: size });
}
