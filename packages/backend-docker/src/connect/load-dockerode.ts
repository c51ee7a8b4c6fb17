import { existsSync } from "node:fs";
import { Module, createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Agent } from "node:http";
import type Dockerode from "dockerode";

const require = createRequire(import.meta.url);

/**
 * Loads dockerode without paying, on every start, for two dependencies it
 * loads eagerly and a start rarely uses: ssh2 (only for `ssh://` engines) and
 * gRPC with its proto loader (only for BuildKit sessions). Together they are
 * about a third of dockerode's load time. Before dockerode is first loaded,
 * the two modules that require them are put in the module cache as stand-ins
 * that load the real module on first use, so behaviour is unchanged. When the
 * files are not where this version of dockerode keeps them, or dockerode is
 * already loaded, nothing is deferred and dockerode loads as usual.
 */
export function loadDockerode(): typeof Dockerode {
  deferUntilUsed(join(dirname(require.resolve("dockerode")), "session.js"));
  deferUntilUsed(modemSshPath());
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

function deferUntilUsed(modulePath: string): void {
  if (!existsSync(modulePath) || require.cache[modulePath]) return;
  let real: object | undefined;
  const load = (): object => {
    if (real === undefined) {
      delete require.cache[modulePath];
      real = require(modulePath) as object;
    }
    return real;
  };
  // Both modules export a function; the proxy forwards calls and any property access alike.
  const standIn = new Proxy(function standIn() {}, {
    apply: (_, thisArg, args) => Reflect.apply(load() as (...a: unknown[]) => unknown, thisArg, args),
    construct: (_, args) => Reflect.construct(load() as new (...a: unknown[]) => object, args),
    get: (_, key) => Reflect.get(load(), key),
  });
  const cached = new Module(modulePath);
  cached.filename = modulePath;
  cached.loaded = true;
  cached.exports = standIn;
  require.cache[modulePath] = cached;
}
