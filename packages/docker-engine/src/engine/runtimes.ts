import { basename } from "node:path";
import type { EngineApi } from "./api.js";

/** An OCI runtime the engine can run containers with, as `GET /info` lists it. */
export interface EngineRuntime {
  /** The name a container asks for (`HostConfig.Runtime`). */
  name: string;
  /** The runtime's binary, as registered (a path or a name on the engine's PATH). */
  path: string;
  runtimeArgs: readonly string[];
}

/** The runtimes registered with the engine (`daemon.json` `runtimes`, and its built-in runc). */
export async function engineRuntimes(api: EngineApi): Promise<EngineRuntime[]> {
  const info = await api.json<{ Runtimes?: Record<string, { path?: string; runtimeArgs?: string[] }> }>("GET", "/info");
  return Object.entries(info.Runtimes ?? {}).map(([name, runtime]) => ({ name, path: runtime.path ?? "", runtimeArgs: runtime.runtimeArgs ?? [] }));
}

/**
 * The runtime whose binary is `binary` (`runsc`), whatever name it was
 * registered under (`runsc`, `gvisor`...); the one called like its binary
 * first, so a choice among several is the same on every call.
 */
export function runtimeByBinary(runtimes: readonly EngineRuntime[], binary: string): EngineRuntime | undefined {
  const matching = runtimes.filter((runtime) => basename(runtime.path) === binary);
  return matching.find((runtime) => runtime.name === binary) ?? matching.sort((a, b) => a.name.localeCompare(b.name))[0];
}
