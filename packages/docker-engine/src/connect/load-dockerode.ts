import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Agent } from "node:http";
import type Dockerode from "dockerode";

const require = createRequire(import.meta.url);

/**
 * dockerode, loaded on first use: only builds, pulls and pushes need it (the
 * engine client in ../engine carries everything else), so a start that finds
 * its image never loads it.
 */
export function loadDockerode(): typeof Dockerode {
  return require("dockerode") as typeof Dockerode;
}

/**
 * docker-modem's ssh transport: an http.Agent that reaches the engine through
 * `docker system dial-stdio` over ssh. The engine client reuses it, so both
 * clients reach an ssh:// engine the same way.
 */
export function loadSshAgent(): (options: object) => Agent {
  return require(modemSshPath()) as (options: object) => Agent;
}

/** docker-modem's ssh module, in the copy of docker-modem that dockerode uses. */
function modemSshPath(): string {
  const modemMain = createRequire(require.resolve("dockerode")).resolve("docker-modem");
  return join(dirname(modemMain), "ssh.js");
}
