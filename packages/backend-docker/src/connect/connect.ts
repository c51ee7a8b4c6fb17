import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { BottleError, ErrorCodes } from "@claude-bottle/core";
import Dockerode from "dockerode";
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

export interface DockerConnection {
  docker: Dockerode;
  /** Which strategy found the engine, e.g. `default socket /var/run/docker.sock`. */
  source: string;
}

type Attempt = { candidate: DockerCandidate; outcome: "missing" | "denied" | "failed"; detail: string };

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
  const attempts: Attempt[] = [];
  for (const candidate of dockerCandidates(where)) {
    // A socket that is not there is reported without a connection attempt (named pipes cannot be stat'ed).
    if (candidate.socketPath && !candidate.socketPath.startsWith("//") && !existsSync(candidate.socketPath)) {
      attempts.push({ candidate, outcome: "missing", detail: "no such socket" });
      continue;
    }
    const docker = new Dockerode(candidate.options);
    try {
      await ping(docker, options.pingTimeoutMs ?? 5_000);
      return { docker, source: candidate.source };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      attempts.push({
        candidate,
        outcome: code === "EACCES" || code === "EPERM" ? "denied" : code === "ENOENT" ? "missing" : "failed",
        detail: describeFailure(error),
      });
    }
  }
  throw unavailableError(attempts, where);
}

async function ping(docker: Dockerode, timeoutMs: number): Promise<void> {
  // A timeout on the modem would also cut long builds and attaches; this bounds only the ping.
  // dockerode accepts options here; its typings do not say so.
  const pingWithOptions = docker.ping.bind(docker) as unknown as (options: { abortSignal: AbortSignal }) => Promise<unknown>;
  await pingWithOptions({ abortSignal: AbortSignal.timeout(timeoutMs) });
}

function describeFailure(error: unknown): string {
  const e = error as NodeJS.ErrnoException & { statusCode?: number };
  if (e.name === "AbortError" || e.name === "TimeoutError") return "no answer (timed out)";
  if (e.code === "ECONNREFUSED") return "connection refused (nothing is listening)";
  if (e.code === "EACCES" || e.code === "EPERM") return "permission denied";
  if (e.code === "ENOENT") return "no such socket";
  if (e.code === "ENOTFOUND") return "no such host";
  return e.message || String(error);
}

function unavailableError(attempts: Attempt[], where: ConnectEnvironment): BottleError {
  const tried = attempts.map((a) => `  - ${a.candidate.source}: ${a.detail}`).join("\n");
  const denied = attempts.find((a) => a.outcome === "denied");
  if (denied) {
    return new BottleError(
      ErrorCodes.DOCKER_PERMISSION_DENIED,
      `Permission denied while connecting to the Docker engine at ${denied.candidate.source}.\nTried:\n${tried}`,
      {
        hint:
          where.platform === "linux"
            ? "Add yourself to the docker group (sudo usermod -aG docker $USER, then log in again), or use rootless Docker."
            : "Check that your user may open the Docker socket, or restart Docker Desktop.",
      },
    );
  }
  const named = Boolean(where.env.DOCKER_HOST?.trim());
  return new BottleError(ErrorCodes.DOCKER_UNAVAILABLE, `No Docker engine answered.\nTried:\n${tried}`, {
    hint: named
      ? "DOCKER_HOST names an engine that is not answering: start it, or unset DOCKER_HOST to use the local one."
      : where.platform === "linux"
        ? "Start the engine (sudo systemctl start docker, or dockerd-rootless.sh for rootless Docker), or set DOCKER_HOST."
        : "Start Docker Desktop (or Colima/OrbStack), or set DOCKER_HOST to a running engine.",
  });
}
