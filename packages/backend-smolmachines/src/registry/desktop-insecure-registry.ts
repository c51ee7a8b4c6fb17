import { BottleError, ErrorCodes } from "@claude-bottle/core";
import type { LocalRegistry } from "./local-registry.js";

/**
 * The address range `host.docker.internal` lives in under Docker Desktop's
 * default network settings (192.168.65.254 in current releases, .2 in older ones).
 */
export const DOCKER_DESKTOP_HOST_RANGE = "192.168.65.0/24";

/**
 * Docker Desktop's engine trusts plain HTTP only for 127.0.0.0/8 and what
 * `insecure-registries` lists, and it reaches our registry as
 * `host.docker.internal:PORT`. An entry naming that address with a port stops
 * working at the next run (the port is random); an IP range has no port, so
 * the engine applies it to every port of every address in it. This turns the
 * engine's refusal into that instruction; other errors pass through unchanged.
 */
export function desktopInsecureRegistryError(error: unknown, registry: Pick<LocalRegistry, "daemonEndpoint">): unknown {
  if (!BottleError.isInstance(error) || error.code !== ErrorCodes.REGISTRY_INSECURE) return error;
  if (!registry.daemonEndpoint.startsWith("host.docker.internal:")) return error;
  return new BottleError(
    ErrorCodes.REGISTRY_INSECURE,
    `Docker Desktop refused to push to the temporary local registry at ${registry.daemonEndpoint}: it speaks plain HTTP, and the engine allows that only for registries listed as insecure.`,
    {
      hint:
        `Once: Docker Desktop → Settings → Docker Engine, add "insecure-registries": ["${DOCKER_DESKTOP_HOST_RANGE}"], then Apply & restart. ` +
        `That range holds host.docker.internal in Docker Desktop's default network and covers every port; if you changed the Docker subnet ` +
        `(Settings → Resources → Network), list that subnet instead. "host.docker.internal:PORT" would not do: the port changes at every run.`,
      cause: error,
    },
  );
}
