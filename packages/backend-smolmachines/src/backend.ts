import { connectDocker } from "@claude-bottle/docker-engine";
import { cachedUntilFailure, type Backend, type BackendContext, type BackendFactory, type Capability, type Enforcement } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { smolmachinesDoctor } from "./doctor.js";
import { BACKEND_NAME, launchSmolmachine } from "./launch.js";
import { attachToMachine, execInMachine, listMachines, machineLogs, removeMachine, stopMachine, toBottleInfo } from "./smolvm/lifecycle.js";
import { prepareSmolmachine, type SmolmachinesPrepared } from "./pipeline/prepare.js";
import { locateSmolvm, type Smolvm } from "./smolvm/locate.js";

export interface SmolmachinesOptions {
  /** The smolvm executable; default `$CLAUDE_BOTTLE_SMOLVM`, else `smolvm` on PATH. */
  smolvm?: string;
  /** The registry image; default `$CLAUDE_BOTTLE_REGISTRY_IMAGE`, else the pinned `registry:2.8.3`. */
  registryImage?: string;
  /** A Docker engine to use instead of the one `connectDocker` finds. */
  docker?: Dockerode;
  /** Whether the engine is Docker Desktop; default: asked from `docker info`. */
  dockerDesktop?: boolean;
  /** The KVM device checked on Linux; default `/dev/kvm`. */
  kvmDevice?: string;
}

const CAPABILITIES: readonly Capability[] = ["detach", "list", "stop", "remove", "logs", "attach", "exec", "doctor"];

/**
 * smolvm keeps the network policy on the host (no port in an entry: it allows a
 * host on all ports or none) and the VM's CPUs and memory; there is no limit on
 * the processes inside the VM. Host controls are put back when the machine ends
 * (smolvm shares directories only), which the README says.
 */
const ENFORCED: readonly Enforcement[] = [
  "network.none",
  "egress.private",
  "egress.allow",
  "egress.deny",
  "egress.allowPrivate",
  "credentials",
  "limits.cpus",
  "limits.memory",
  "mounts.readOnly",
  "hostControls.readOnly",
];

export const createSmolmachinesBackend: BackendFactory<SmolmachinesOptions, SmolmachinesPrepared> = (options = {}) => {
  let locate: (() => Promise<Smolvm>) | undefined;
  let connect: (() => Promise<Dockerode>) | undefined;
  const smolvm = (ctx: BackendContext) =>
    (locate ??= cachedUntilFailure(() => locateSmolvm({ path: options.smolvm, env: ctx.env, cwd: ctx.cwd, kvmDevice: options.kvmDevice })))();
  const docker = (ctx: BackendContext) =>
    (connect ??= cachedUntilFailure(async () => options.docker ?? (await connectDocker({ env: ctx.env })).docker))();

  const backend: Backend<SmolmachinesPrepared> = {
    // The contract version this code implements, written out as core's README asks of every backend.
    apiVersion: 1,
    name: BACKEND_NAME,
    capabilities: CAPABILITIES,
    enforces: ENFORCED,
    prepare: (spec, ctx) =>
      prepareSmolmachine(spec, ctx, {
        smolvm,
        docker,
        registry: {
          ...(options.registryImage ? { image: options.registryImage } : {}),
          ...(options.dockerDesktop !== undefined ? { dockerDesktop: options.dockerDesktop } : {}),
        },
      }),
    launch: async (prepared, opts, ctx) => launchSmolmachine(await smolvm(ctx), prepared, opts, ctx),
    list: async (ctx) => (await listMachines(await smolvm(ctx), ctx)).map(toBottleInfo),
    stop: async (name, _opts, ctx) => stopMachine(await smolvm(ctx), name, ctx),
    remove: async (name, opts, ctx) => removeMachine(await smolvm(ctx), name, opts.force, ctx),
    logs: async (name, opts, ctx) => machineLogs(await smolvm(ctx), name, opts, ctx),
    attach: async (name, { stdio }, ctx) => attachToMachine(await smolvm(ctx), name, stdio, ctx),
    exec: async (name, opts, ctx) => execInMachine(await smolvm(ctx), name, opts, ctx),
    doctor: (ctx) => smolmachinesDoctor(options, ctx),
  };
  return backend;
};
