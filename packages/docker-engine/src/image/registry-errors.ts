import { BottleError, ErrorCodes } from "@claude-bottle/core";

/** The registry part of a reference (`localhost:5000` in `localhost:5000/repo:tag`), Docker Hub when there is none. */
export function registryOf(ref: string): string {
  const first = ref.split("/")[0]!;
  const isHost = ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  return isHost ? first : "docker.io";
}

/** A registry on this machine or its Docker Desktop VM's way back to it, where the engine's own address is the question. */
function isLocalRegistry(registry: string): boolean {
  const host = registry.replace(/:\d+$/, "");
  return host === "localhost" || host === "host.docker.internal" || /^127\./.test(host) || host === "[::1]";
}

const INSECURE = /server gave HTTP response to HTTPS client/i;
const UNREACHABLE = /connection refused|i\/o timeout|no such host|context deadline exceeded|network is unreachable|connection reset|no route to host|TLS handshake timeout/i;

/**
 * Turns a registry failure reported by the engine into the error a user can
 * act on: an HTTP-only registry the engine will not talk to, a registry it
 * cannot reach, or undefined when the failure is something else.
 */
export function classifyRegistryFailure(ref: string, message: string, action: "push" | "pull", instead?: string): BottleError | undefined {
  const registry = registryOf(ref);
  if (INSECURE.test(message)) {
    return new BottleError(
      ErrorCodes.REGISTRY_INSECURE,
      `The Docker engine refused to ${action} ${ref}: the registry ${registry} speaks plain HTTP and the engine insists on HTTPS (${message.trim()}).`,
      {
        hint: `Add "${registry}" to "insecure-registries" (Docker Desktop: Settings → Docker Engine; Linux: /etc/docker/daemon.json) and restart the engine, or use a registry address the engine already trusts such as localhost.`,
      },
    );
  }
  if (UNREACHABLE.test(message)) {
    return new BottleError(
      ErrorCodes.REGISTRY_UNREACHABLE,
      `The Docker engine could not reach the registry ${registry} to ${action} ${ref} (${message.trim()}).`,
      {
        hint: isLocalRegistry(registry)
          ? "Check that the registry is running and that the engine can reach that address: on Docker Desktop the engine runs in a VM, where localhost is not your machine (use host.docker.internal)."
          : `The engine has no way to ${registry} (offline, or behind a firewall or proxy it is not configured for). ${instead ?? "Load the image from a machine that has it (docker save, then docker load here), or build it locally."}`,
      },
    );
  }
  return undefined;
}

/** A registry that answered and refused (a login needed, a read-only registry): what is left once the above are ruled out. */
export function registryRefused(ref: string, message: string, action: "push" | "pull"): BottleError {
  const registry = registryOf(ref);
  return new BottleError(ErrorCodes.REGISTRY_REFUSED, `The registry ${registry} refused to ${action} ${ref}: ${message.trim()}`, {
    hint: `Check that ${registry} accepts a ${action} of this image without a login, and that it is not read-only.`,
  });
}
