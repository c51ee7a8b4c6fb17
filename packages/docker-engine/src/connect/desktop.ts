import type Dockerode from "dockerode";

/**
 * Docker Desktop runs the daemon in its own VM, so the daemon's `localhost` is
 * not the host's. `docker info` says "Docker Desktop" there and the host's OS
 * name on a native daemon.
 */
export async function isDockerDesktop(docker: Dockerode): Promise<boolean> {
  const info = (await docker.info()) as { OperatingSystem?: string };
  return info.OperatingSystem === "Docker Desktop";
}
