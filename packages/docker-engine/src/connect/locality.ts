import type Dockerode from "dockerode";

/** The setting that says, against what the address suggests, whether the engine shares this machine's files. */
export const ENGINE_LOCALITY_VARIABLE = "CLAUDE_BOTTLE_ENGINE";

const LOOPBACK = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

/**
 * Whether the engine runs where this process's files are not: a bind mount of
 * the workspace would name a path on another machine (empty there, or
 * someone else's). The user's word wins (`CLAUDE_BOTTLE_ENGINE=remote` for an
 * engine behind a unix socket that is forwarded from elsewhere, `=local` for
 * an engine reached over tcp that still shares the disk, such as a VM with the
 * home directory mounted); otherwise the address decides: a socket or named
 * pipe is on this machine, ssh:// is another one, tcp:// is another one unless
 * it is loopback. Docker Desktop's sockets are local: it shares the home.
 */
export function engineIsRemote(options: Pick<Dockerode.DockerOptions, "socketPath" | "protocol" | "host">, env: Readonly<Record<string, string | undefined>>): boolean {
  const said = env[ENGINE_LOCALITY_VARIABLE]?.trim().toLowerCase();
  if (said === "remote") return true;
  if (said === "local") return false;
  if (options.socketPath) return false;
  if (options.protocol === "ssh") return true;
  return !LOOPBACK.has(String(options.host ?? "").toLowerCase());
}

/** A setting that is neither remote nor local, told before any engine is asked. */
export function invalidLocality(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const said = env[ENGINE_LOCALITY_VARIABLE]?.trim().toLowerCase();
  return said && said !== "remote" && said !== "local" ? said : undefined;
}
