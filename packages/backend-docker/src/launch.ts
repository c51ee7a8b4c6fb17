import {
  assertAgentPaths,
  buildNetworkOf,
  phase,
  prepareHostControls,
  throwIfAborted,
  type BackendContext,
  type BottleSpec,
  type LaunchOptions,
  type Launched,
  type Prepared,
  type Stdio,
} from "@claude-bottle/core";
import { ensureAgentImage, type BuildNetworkMode, type DockerConnection, type ImagePlan } from "@claude-bottle/docker-engine";
import { runAttached } from "./container/attached-session.js";
import { containerCreateOptions, type HostUser } from "./container/create-options.js";
import { type BottleRuntime } from "./container/isolation.js";
import { ensureHomeVolume, homeVolumeName, prepareHomeDirectory } from "./container/home-volume.js";
import type { BACKEND_NAME } from "./container/labels.js";
import { noticeLegacyHome } from "./container/legacy-home.js";
import { createContainer, removeContainer, startContainer } from "./container/lifecycle.js";
import { ownerLabels } from "./container/owner.js";
import { proxyCredentials } from "./egress/credential-placeholders.js";
import { startHostServices } from "./ports/host-services.js";
import { publishPorts } from "./ports/publish.js";
import { ensureProxyImage, proxyImageRef } from "./egress/proxy-image.js";
import { removeEgress, removeEgressInBackground, startEgress, type Egress, type EgressSettings } from "./egress/sidecar.js";

/** What prepare hands to launch: the spec and the image it runs. */
export interface DockerPrepared extends Prepared<typeof BACKEND_NAME> {
  readonly image: ImagePlan;
  /** The engine runtime for the spec's isolation, found in prepare so a missing runsc stops before any build. */
  readonly runtime: BottleRuntime;
}

/** What a launch needs of the backend that made it. */
export interface LaunchDeps {
  /** The backend's one engine connection. */
  engine: (ctx: BackendContext) => Promise<DockerConnection>;
  /** The user the bottle runs as; undefined keeps the image's. */
  user: HostUser | undefined;
  /** The egress proxy's settings beyond the policy (DockerBackendOptions.egress). */
  egress: Partial<EgressSettings> | undefined;
}

/**
 * Starts the bottle `prepared.spec` names: its image checked or built, its
 * home volume and its network and proxy made meanwhile, then the container
 * created and started, attached or detached. Whatever stops it short leaves
 * nothing behind.
 */
export async function launchBottle(deps: LaunchDeps, prepared: DockerPrepared, opts: LaunchOptions, ctx: BackendContext): Promise<Launched> {
  const { name } = prepared.spec;
    throwIfAborted(ctx.signal);
  const { spec, image: plan } = prepared;
  // Again, as the directories may have gone since prepare.
  assertAgentPaths(spec);
  const docker = await deps.engine(ctx);
  const { api } = docker;
  // The home volume does not depend on the image: look it up while the image is checked or built.
  const homeVolume = ensureHomeVolume(api, spec.slug, spec.homeProject, deps.user);
  void noticeLegacyHome(api, spec.slug, ctx);
  homeVolume.catch(() => {}); // awaited below; a build failure must not leave it unobserved
  // The bottle's way out is made while the image is checked or built (its proxy pulled first if the engine lacks it).
  const egress = spec.network ? startBottleEgress(docker, spec, deps.egress, ctx) : undefined;
  egress?.catch(() => {}); // awaited below; a build failure must not leave it unobserved
  let detachedBottle = false;
  let ranToEnd = false;
  try {
    const image = await ensureAgentImage(docker, plan, spec.slug, ctx, () => buildNetworkFor(spec, egress));
    throwIfAborted(ctx.signal);
    const controls = await prepareHostControls(spec.workspace);
    const egressReady = await egress;
    if (spec.hostServices?.length) {
      const ports = spec.hostServices;
      await phase(ctx, "egress", `Opening the host services ${ports.join(", ")}`, () => startHostServices(api, name, ports, proxyImage(deps, ctx), ctx.signal));
    }
    const createOptions = containerCreateOptions({
      controls,
      ...(egressReady && { egress: egressReady }),
      spec,
      image: image.id,
      imageConfig: image.config,
      extraArgs: opts.extraArgs,
      env: ctx.env,
      user: deps.user,
      tty: opts.stdio.stdin.isTTY === true,
      ...terminalSize(opts.stdio),
      openStdin: true,
      // Attached: the agent's stdin ends with ours. Detached: it stays open for a later attach.
      stdinOnce: !opts.detach,
      autoRemove: !opts.detach,
      runtime: prepared.runtime,
    });

    // The forwarders need the bottle's network, not its container (they find it by name): made while it is created.
    const ports = spec.ports ?? [];
    const published = ports.length && egressReady ? publishPorts(api, name, ports, proxyImage(deps, ctx)) : undefined;
    published?.catch(() => {}); // awaited below; a failed create must not leave it unobserved
    let container: string | undefined;
    let handedOver = false;
    try {
      container = await phase(ctx, "create", `Creating ${name}`, async () => {
        const home = await homeVolume;
        // Its start's pid: a bottle created by a start that died before starting it is reaped by the next `ls` (container/reap.ts).
        const created = await createContainer(api, { ...createOptions, Labels: { ...createOptions.Labels, ...ownerLabels() } });
        container = created;
        if (home !== "ready") {
          // Rare (a new or foreign volume): tar-stream is loaded for it rather than on every start.
          await prepareHomeDirectory(api, created, deps.user).catch(async (error: unknown) => {
            // A new volume's label says HOME is made: the volume goes too, so the next start makes it again.
            if (home === "created") {
              await removeContainer(api, created, { force: true }).catch(() => {});
              await api.json("DELETE", `/volumes/${homeVolumeName(spec.slug, spec.homeProject)}`).catch(() => {});
            }
            throw error;
          });
        }
        throwIfAborted(ctx.signal);
        return created;
      });
      // Created while the proxy started: the agent starts only once it listens.
      await egressReady?.listening;
      // Before the agent starts: a port taken on the host stops the start here, and the first request finds the way open.
      if (published) await phase(ctx, "publish", `Publishing ${ports.map((p) => p.host).join(", ")} on your loopback`, () => published);
      if (opts.detach) {
        await phase(ctx, "start", `Starting ${name}`, () => startContainer(api, container!));
        handedOver = true;
        detachedBottle = true;
        return { detached: true, name };
      }
      const exitCode = await runAttached(api, container, opts.stdio, ctx, {
        config: createOptions,
        waitFor: "removed",
        ownsBottle: true,
        title: `Attaching to ${name}`,
      });
      handedOver = true;
      ranToEnd = true;
      return { detached: false, name, exitCode };
    } finally {
      // Whatever stopped the launch short (an error, Ctrl-C), nothing is left behind: no forwarder still being made, either.
      await published?.catch(() => {});
      if (container && !handedOver) await removeContainer(api, container, { force: true }).catch(() => {});
    }
  } finally {
    // An attached bottle is gone by now (removed as it exited), or never started: its proxy and network go too.
    // A detached one keeps them until stop and rm.
    // After a run that ended on its own, in the background: the user does not wait for it.
    if (egress && !detachedBottle) {
      await egress.then(
        () => (ranToEnd ? removeEgressInBackground(api, name, ctx.cacheDir, ctx.env) : removeEgress(api, name, ctx.cacheDir, ctx.env)),
        () => {},
      );
    }
  }
}

/** The bottle's network and proxy, for its policy (core resolves one for every bottle with network). */
async function startBottleEgress(docker: DockerConnection, spec: BottleSpec, given: Partial<EgressSettings> | undefined, ctx: BackendContext): Promise<Egress> {
  const settings: EgressSettings = { image: proxyImageRef(ctx.env), ...given };
  const policy = spec.egress ?? { mode: "all" as const, deny: [], allowPrivate: [] };
  const [credentials] = await Promise.all([proxyCredentials(spec, ctx.env), ensureProxyImage(docker, settings.image, ctx)]);
  return startEgress(docker.api, spec.name, policy, settings, ctx, credentials);
}

/**
 * A build's network as the plan says (buildNetworkOf): none, the bottle's own
 * network and proxy (made alongside the image check, so a build waits for it and
 * a cached image does not), or the engine's for the built-in agent.
 */
async function buildNetworkFor(spec: BottleSpec, egress: Promise<Egress> | undefined): Promise<BuildNetworkMode | undefined> {
  const wanted = buildNetworkOf(spec);
  if (wanted === "engine") return undefined;
  if (wanted === "off" || egress === undefined) return { mode: "none" };
  const { network, proxyUrl, listening } = await egress;
  await listening;
  return { mode: network, proxyUrl };
}

/** The image the egress proxy and its helpers (forwarders, host services) run from. */
function proxyImage(deps: LaunchDeps, ctx: BackendContext): string {
  return deps.egress?.image ?? proxyImageRef(ctx.env);
}

/** The attached terminal's size, where stdout is one that knows it. */
function terminalSize(stdio: Stdio): { consoleSize?: { rows: number; columns: number } } {
  const { rows, columns } = stdio.stdout;
  return rows && columns ? { consoleSize: { rows, columns } } : {};
}
