import { BottleError, type DoctorCheck, type Isolation, Labels } from "@claude-bottle/core";
import { engineMessage, engineRuntimes, runtimeByBinary, type EngineApi, type EngineRuntime } from "@claude-bottle/docker-engine";
import { DockerErrorCodes } from "../errors.js";

/** The label that says which boundary a bottle (and its proxy) runs on: `ls` reads it. */
export const ISOLATION_LABEL = Labels.isolation;

/** gVisor's OCI runtime, found among the engine's runtimes by this binary's name. */
export const GVISOR_BINARY = "runsc";

/**
 * What a bottle gets when neither its agent file, the user's config nor
 * `--isolation` says: runc. gVisor is one line away; why it is not the default
 * (the first screen and the workloads measured under both) is in the README.
 */
export const DEFAULT_ISOLATION: Isolation = "runc";

/**
 * Threads of gVisor's own (its sentry and gofer) that count against a
 * container's process limit: a sandbox with fewer than ~48 fails to start
 * here (`urpc ... EOF`). Added to every limit under gVisor, so a bottle keeps
 * the processes it has under runc, and the proxy's small limits still start.
 */
export const GVISOR_OWN_PIDS = 64;

/** The engine runtime a bottle runs on, and which isolation that is. */
export interface BottleRuntime {
  isolation: Isolation;
  /** `HostConfig.Runtime`: named even for runc, so an engine whose default-runtime is another never gives less than the label says. */
  runtime: string;
}

/** Where to get runsc, how to register it and reload the engine: the hint of the error and of `doctor`. */
export const RUNSC_HINT =
  "Install gVisor (Debian and Ubuntu: sudo apt-get install runsc), register it in /etc/docker/daemon.json, keeping the keys already there: " +
  '"runtimes": { "runsc": { "path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace", "--network=host"] } }, ' +
  "then reload the engine without stopping its containers: sudo kill -HUP $(pidof dockerd) (or sudo systemctl reload docker). " +
  "Or start this bottle with --isolation runc.";

/** The runtime for `asked`; gVisor asked for and not registered stops here, before anything is built. */
export async function bottleRuntime(api: EngineApi, asked: Isolation | undefined): Promise<BottleRuntime> {
  const isolation = asked ?? DEFAULT_ISOLATION;
  if (isolation === "runc") return { isolation, runtime: "runc" };
  return gvisorRuntimeOf(await engineRuntimes(api));
}

/** gVisor among the engine's runtimes, or the error that says how to install and register it. */
export function gvisorRuntimeOf(runtimes: readonly EngineRuntime[]): BottleRuntime {
  const runsc = runtimeByBinary(runtimes, GVISOR_BINARY);
  if (!runsc) {
    throw new BottleError(DockerErrorCodes.DOCKER_RUNTIME_MISSING, "This bottle asks for gVisor isolation, and the Docker engine has no runsc runtime.", {
      hint: RUNSC_HINT,
    });
  }
  return { isolation: "gvisor", runtime: runsc.name };
}

/** A container's process limit under `runtime`: gVisor's own threads on top (GVISOR_OWN_PIDS). */
export function pidsLimitUnder(runtime: BottleRuntime | undefined, pids: number): number {
  return runtime?.isolation === "gvisor" ? pids + GVISOR_OWN_PIDS : pids;
}

/** `doctor`: whether gVisor can be asked for. Not having it is fine unless a bottle asks (`required`). */
export async function gvisorCheck(api: EngineApi, required: boolean): Promise<DoctorCheck> {
  const name = "gVisor (isolation: gvisor)";
  try {
    const runsc = runtimeByBinary(await engineRuntimes(api), GVISOR_BINARY);
    if (runsc) {
      const args = runsc.runtimeArgs.length ? ` ${runsc.runtimeArgs.join(" ")}` : "";
      return { name, ok: true, detail: `the engine's runtime "${runsc.name}" (${runsc.path}${args})` };
    }
    return {
      name,
      ok: !required,
      detail: required ? "your config asks for gVisor, and the engine has no runsc runtime" : "not registered with the engine: bottles run on runc (the host's kernel)",
      hint: RUNSC_HINT,
    };
  } catch (error) {
    return { name, ok: false, detail: `the engine's runtimes could not be read: ${engineMessage(error)}` };
  }
}
