import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { BottleError } from "@claude-bottle/core";
import { EngineErrorCodes } from "../errors.js";
import type Dockerode from "dockerode";
import { EngineApi } from "../engine/api.js";
import { loadDockerode } from "./load-dockerode.js";
import { ENGINE_LOCALITY_VARIABLE, engineIsRemote, invalidLocality } from "./locality.js";
import { dockerCandidates, type ConnectEnvironment, type DockerCandidate } from "./strategies.js";

export interface ConnectOptions {
  /** Default: `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default: `process.platform`. */
  platform?: NodeJS.Platform;
  /** Default: `os.homedir()`. */
  home?: string;
  /** How long one ping may take before the next place is tried, in ms. Default 5000. */
  pingTimeoutMs?: number;
}

/** An engine, through the two clients that reach it. */
export interface DockerEngine {
  /** The small client the frequent calls go through. */
  readonly api: EngineApi;
  /** dockerode for the rest (build, pull, push, logs, exec); loaded on first use. */
  readonly docker: Dockerode;
}

export interface DockerConnection extends DockerEngine {
  /** Which strategy found the engine, e.g. `default socket /var/run/docker.sock`. */
  readonly source: string;
  /** The engine does not share this machine's files (locality.ts): the workspace is carried to it, not bound. */
  readonly remote: boolean;
}

/** Both clients for an engine, which callers may give as a dockerode instance (embedding, tests). */
export function engineOf(engine: DockerEngine | Dockerode): DockerEngine {
  return "modem" in engine ? { api: EngineApi.for(engine), docker: engine } : engine;
}

type Attempt = { candidate: DockerCandidate; detail: string; denied: boolean };

/**
 * Finds a Docker engine: walks the strategy chain and returns the first one
 * that answers a ping. Throws DOCKER_PERMISSION_DENIED when a socket exists
 * but may not be opened, DOCKER_UNAVAILABLE (naming every place tried) otherwise.
 */
export async function connectDocker(options: ConnectOptions = {}): Promise<DockerConnection> {
  const where: ConnectEnvironment = {
    env: options.env ?? process.env,
    platform: options.platform ?? process.platform,
    home: options.home ?? homedir(),
  };
  const badLocality = invalidLocality(where.env);
  if (badLocality !== undefined) {
    throw new BottleError(EngineErrorCodes.DOCKER_UNAVAILABLE, `${ENGINE_LOCALITY_VARIABLE}=${badLocality} is neither remote nor local.`, {
      hint: `Set ${ENGINE_LOCALITY_VARIABLE}=remote for an engine on another machine, =local for one that shares this machine's files, or unset it.`,
    });
  }
  let candidates: DockerCandidate[];
  try {
    candidates = dockerCandidates(where);
  } catch (error) {
    throw new BottleError(EngineErrorCodes.DOCKER_UNAVAILABLE, `The Docker engine address is not valid: ${(error as Error).message}`, {
      hint: "Set DOCKER_HOST to an address such as unix:///var/run/docker.sock or tcp://host:2375, or unset it.",
      cause: error,
    });
  }
  const attempts: Attempt[] = [];
  for (const candidate of candidates) {
    // A socket that is not there is reported without a connection attempt (named pipes cannot be stat'ed).
    if (candidate.socketPath && !candidate.socketPath.startsWith("//") && !existsSync(candidate.socketPath)) {
      attempts.push({ candidate, detail: "no such socket", denied: false });
      continue;
    }
    try {
      const api = new EngineApi(candidate.options);
      // A timeout on every request would also cut long builds and attaches; this bounds only the ping.
      await api.request("GET", "/_ping", { signal: AbortSignal.timeout(options.pingTimeoutMs ?? 5_000) }).then((r) => r.resume());
      return connection(api, candidate, engineIsRemote(candidate.options, where.env));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      attempts.push({ candidate, detail: describeFailure(error), denied: code === "EACCES" || code === "EPERM" });
    }
  }
  throw unavailableError(attempts, where);
}

function connection(api: EngineApi, candidate: DockerCandidate, remote: boolean): DockerConnection {
  let docker: Dockerode | undefined;
  return {
    api,
    source: candidate.source,
    remote,
    get docker() {
      try {
        docker ??= new (loadDockerode())(candidate.options);
      } catch (error) {
        // docker-modem also reads DOCKER_HOST and DOCKER_CERT_PATH's files from process.env when it is built.
        throw new BottleError(EngineErrorCodes.DOCKER_UNAVAILABLE, `The Docker client could not be set up: ${(error as Error).message}`, {
          hint: "Check DOCKER_HOST, DOCKER_TLS_VERIFY and that DOCKER_CERT_PATH holds ca.pem, cert.pem and key.pem, or unset them.",
          cause: error,
        });
      }
      return docker;
    },
  };
}

function describeFailure(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e.name === "AbortError" || e.name === "TimeoutError") return "no answer (timed out)";
  if (e.code === "ECONNREFUSED") return "connection refused (nothing is listening)";
  if (e.code === "EACCES" || e.code === "EPERM") return "permission denied";
  if (e.code === "ENOENT") return "no such socket";
  if (e.code === "ENOTFOUND") return "no such host";
  return e.message || String(error);
}

function unavailableError(attempts: Attempt[], where: ConnectEnvironment): BottleError {
  const tried = attempts.map((a) => `  - ${a.candidate.source}: ${a.detail}`).join("\n");
  const denied = attempts.find((a) => a.denied);
  if (denied) {
    return new BottleError(
      EngineErrorCodes.DOCKER_PERMISSION_DENIED,
      `Permission denied while connecting to the Docker engine at ${denied.candidate.source}.\nTried:\n${tried}`,
      {
        hint:
          where.platform === "linux"
            ? "Add yourself to the docker group (sudo usermod -aG docker $USER, then log in again), or use rootless Docker."
            : "Check that your user may open the Docker socket, or restart Docker Desktop.",
      },
    );
  }
  return new BottleError(EngineErrorCodes.DOCKER_UNAVAILABLE, `No Docker engine answered.\nTried:\n${tried}`, {
    hint: howToStart(attempts, where.platform),
  });
}

function howToStart(attempts: Attempt[], platform: NodeJS.Platform): string {
  // A single place tried means the user named it (DOCKER_HOST or a docker context): they should fix that, not start another.
  const named = attempts.length === 1 ? attempts[0]!.candidate.source : "";
  if (named.startsWith("DOCKER_HOST")) {
    return "DOCKER_HOST names an engine that is not answering: start it, or unset DOCKER_HOST to use the local one.";
  }
  if (named.startsWith("docker context")) {
    return "The current docker context names an engine that is not answering: start it, or switch with `docker context use default`.";
  }
  if (platform === "linux") {
    return "Start the engine (sudo systemctl start docker, or dockerd-rootless.sh for rootless Docker), or set DOCKER_HOST.";
  }
  return "Start Docker Desktop (or Colima/OrbStack), or set DOCKER_HOST to a running engine.";
}
