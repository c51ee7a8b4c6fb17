import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type Dockerode from "dockerode";

/** Where to look for an engine; injected so the chain can be tested without Docker. */
export interface ConnectEnvironment {
  env: Readonly<Record<string, string | undefined>>;
  platform: NodeJS.Platform;
  home: string;
  /** Reads a small text file, or returns undefined when it is absent or unreadable. */
  readFile?: (path: string) => string | undefined;
}

/** One place an engine may listen, with the dockerode options that reach it. */
export interface DockerCandidate {
  /** Human-readable, for `source` and for the error that lists every place tried. */
  source: string;
  /** For unix sockets and named pipes: the path, so a missing one is reported as such. */
  socketPath?: string;
  options: Dockerode.DockerOptions;
}

/**
 * The chain, in order. `DOCKER_HOST` (or a docker context) is authoritative,
 * as it is for the docker CLI: when the user named an engine we never
 * silently talk to another one. Otherwise the well-known sockets are tried.
 */
export function dockerCandidates(where: ConnectEnvironment): DockerCandidate[] {
  const dockerHost = where.env.DOCKER_HOST?.trim();
  if (dockerHost) return [fromDockerHost(dockerHost, "DOCKER_HOST", where)];

  const fromContext = fromDockerContext(where);
  if (fromContext) return [fromContext];

  if (where.platform === "win32") {
    return [socketCandidate("//./pipe/docker_engine", "default named pipe")];
  }
  const candidates = [socketCandidate("/var/run/docker.sock", "default socket")];
  const runtimeDir = where.env.XDG_RUNTIME_DIR;
  if (runtimeDir) candidates.push(socketCandidate(join(runtimeDir, "docker.sock"), "rootless Docker socket"));
  candidates.push(
    socketCandidate(join(where.home, ".docker", "run", "docker.sock"), "Docker Desktop socket"),
    socketCandidate(join(where.home, ".docker", "desktop", "docker.sock"), "Docker Desktop (Linux) socket"),
  );
  if (where.platform === "darwin") {
    candidates.push(
      socketCandidate(join(where.home, ".colima", "default", "docker.sock"), "Colima socket"),
      socketCandidate(join(where.home, ".orbstack", "run", "docker.sock"), "OrbStack socket"),
    );
  }
  return candidates;
}

/**
 * Every key is set explicitly: docker-modem merges our options over its own
 * reading of `process.env.DOCKER_HOST`, and a key we leave out would leak in
 * from there (a `host` would silently win over our `socketPath`).
 */
const cleared = {
  socketPath: undefined,
  host: undefined,
  port: undefined,
  protocol: undefined,
  ca: undefined,
  cert: undefined,
  key: undefined,
  username: undefined,
} as const;

function socketCandidate(path: string, label: string): DockerCandidate {
  return { source: `${label} ${path}`, socketPath: path, options: { ...cleared, socketPath: path } };
}

/** Parses a `DOCKER_HOST`-style address: unix://, npipe://, tcp://, ssh://, or bare host:port. */
export function fromDockerHost(address: string, origin: string, where: ConnectEnvironment): DockerCandidate {
  if (address.startsWith("unix://") || address.startsWith("npipe://")) {
    const path = address.replace(/^(unix|npipe):\/\//, "");
    return { ...socketCandidate(path, `${origin}=${address}`), source: `${origin}=${address}` };
  }
  const url = new URL(address.includes("://") ? address : `tcp://${address}`);
  const source = `${origin}=${address}`;
  if (url.protocol === "ssh:") {
    return {
      source,
      options: {
        ...cleared,
        protocol: "ssh",
        host: url.hostname,
        port: url.port || 22,
        username: url.username || undefined,
        sshOptions: { agent: where.env.SSH_AUTH_SOCK },
      },
    };
  }
  const port = url.port || "2375";
  const tls = where.env.DOCKER_TLS_VERIFY === "1" || port === "2376";
  const certPath = where.env.DOCKER_CERT_PATH;
  const read = where.readFile ?? readOptional;
  const certs =
    tls && certPath
      ? { ca: read(join(certPath, "ca.pem")), cert: read(join(certPath, "cert.pem")), key: read(join(certPath, "key.pem")) }
      : {};
  return { source, options: { ...cleared, protocol: tls ? "https" : "http", host: url.hostname, port, ...certs } };
}

/**
 * The docker CLI's current context (`DOCKER_CONTEXT`, else `currentContext` in
 * ~/.docker/config.json): Colima, OrbStack and remote engines are often only
 * reachable through one. The context's metadata lives under the sha256 of its name.
 */
function fromDockerContext(where: ConnectEnvironment): DockerCandidate | undefined {
  const read = where.readFile ?? readOptional;
  const configDir = where.env.DOCKER_CONFIG || join(where.home, ".docker");
  let name = where.env.DOCKER_CONTEXT;
  if (!name) {
    const config = parseJson(read(join(configDir, "config.json")));
    name = typeof config?.currentContext === "string" ? config.currentContext : undefined;
  }
  if (!name || name === "default") return undefined;
  const digest = createHash("sha256").update(name).digest("hex");
  const meta = parseJson(read(join(configDir, "contexts", "meta", digest, "meta.json")));
  const endpoints = meta?.Endpoints as Record<string, { Host?: unknown }> | undefined;
  const host = endpoints?.docker?.Host;
  if (typeof host !== "string" || host === "") return undefined;
  return fromDockerHost(host, `docker context "${name}"`, where);
}

function parseJson(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
