import { readFile } from "node:fs/promises";
import { BottleError, ErrorCodes, Labels, phase, toolLabels, type BackendContext } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { statusCodeOf } from "@claude-bottle/docker-engine";
import { DockerErrorCodes } from "../errors.js";
import { BACKEND_NAME } from "../container/labels.js";
import { EGRESS_FOR_LABEL } from "./labels.js";
import { createProxy, egressNames, listeningLines, policyFileOf, subnetOf, waitUntilListening, type EgressSettings } from "./sidecar.js";

/**
 * Brings back the proxy of a running bottle (it crashed, ran out of memory, was
 * killed or removed): the same container started again when it is still there,
 * so `logs --egress` keeps its history; else a new one from the policy file the
 * bottle's start left in the cache. The bottle is not touched: its proxy
 * variables name an address, which the anchor has held meanwhile (answering for
 * the proxy); the proxy comes back in the anchor's network namespace, at that
 * very address.
 */
export async function restartEgress(
  api: EngineApi,
  bottle: string,
  info: Dockerode.ContainerInspectInfo,
  settings: EgressSettings,
  ctx: Pick<BackendContext, "emit" | "signal" | "cacheDir" | "logger">,
): Promise<void> {
  const names = egressNames(bottle);
  const wanted = info.Config.Env?.find((entry) => entry.startsWith("HTTPS_PROXY="))?.slice("HTTPS_PROXY=".length);
  if (info.HostConfig.NetworkMode !== names.network || wanted === undefined) {
    throw new BottleError(ErrorCodes.UNSUPPORTED, `The bottle ${bottle} has no egress proxy: it runs without a network, or was started before egress policies.`, {
      hint: "Nothing to restart; its network is what it was started with.",
    });
  }
  const existing = await api.json<Dockerode.ContainerInspectInfo>("GET", `/containers/${names.proxy}/json`).catch((error: unknown) => {
    if (statusCodeOf(error) === 404) return undefined;
    throw error;
  });
  if (existing?.State.Running) {
    ctx.logger.info(`The egress proxy of ${bottle} is running; nothing to do.`);
    return;
  }
  const policyFile = policyFileOf(ctx.cacheDir, bottle);
  const policy = await readFile(policyFile, "utf8").then(
    (text) => JSON.parse(text) as { credentials?: unknown[] },
    () => undefined,
  );
  const anchor = await api.json<Dockerode.ContainerInspectInfo>("GET", `/containers/${names.anchor}/json`).catch((error: unknown) => {
    if (statusCodeOf(error) === 404) return undefined;
    throw error;
  });
  if (!anchor?.State.Running) {
    throw new BottleError(DockerErrorCodes.DOCKER_EGRESS_FAILED, `The egress anchor of ${bottle}, which holds the address the bottle sends its traffic to, is ${anchor ? "not running" : "gone"}: a proxy started now could not take that address.`, {
      hint: `Restart the bottle: claude-bottle stop ${bottle}, then claude-bottle start (its workspace and home are kept).`,
    });
  }
  if (existing?.Config.OpenStdin || (policy?.credentials?.length ?? 0) > 0) {
    // Values and the CA key reached it on stdin only, and lived only in its memory: nothing on the host can give them again.
    throw new BottleError(DockerErrorCodes.DOCKER_EGRESS_FAILED, `The egress proxy of ${bottle} held its credentials (and the bottle's CA key) in memory only; they ended with it, so it cannot be restarted alone.`, {
      hint: `Restart the bottle: claude-bottle stop ${bottle}, then claude-bottle start (its workspace and home are kept).`,
    });
  }
  await phase(ctx, "egress", "Restarting the egress proxy", async () => {
    let id: string;
    let before = 0;
    if (existing) {
      id = existing.Id;
      before = await listeningLines(api, id);
    } else {
      if (policy === undefined) {
        throw new BottleError(DockerErrorCodes.DOCKER_EGRESS_FAILED, `The egress proxy of ${bottle} is gone, and so is the policy its start wrote (${policyFile}).`, {
          hint: `Restart the bottle: claude-bottle stop ${bottle}, then claude-bottle start.`,
        });
      }
      const network = await api.json<Dockerode.NetworkInspectInfo>("GET", `/networks/${names.network}`);
      const labels = toolLabels({ [Labels.backend]: BACKEND_NAME, [EGRESS_FOR_LABEL]: bottle });
      ({ Id: id } = await createProxy(api, names, settings, policyFile, await subnetOf(api, network.Id), labels, false));
    }
    await api.json("POST", `/containers/${id}/start`);
    await waitUntilListening(api, id, ctx.signal, before);
  });
  // The anchor's address is the one the bottle was given (a sanity check: the anchor never moves).
  const address = anchor.NetworkSettings.Networks[names.network]?.IPAddress;
  if (`http://${address}:${new URL(wanted).port}` !== wanted) {
    throw new BottleError(DockerErrorCodes.DOCKER_EGRESS_FAILED, `The egress proxy of ${bottle} is at ${address ?? "no address"}, but the bottle sends its traffic to ${wanted}.`, {
      hint: `Restart the bottle: claude-bottle stop ${bottle}, then claude-bottle start.`,
    });
  }
}
