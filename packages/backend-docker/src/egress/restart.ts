import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { BottleError, ErrorCodes, Labels, phase, toolLabels, type BackendContext, type RestartProxyOptions } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { statusCodeOf } from "@claude-bottle/docker-engine";
import { DockerErrorCodes } from "../errors.js";
import { BACKEND_NAME } from "../container/labels.js";
import { EGRESS_FOR_LABEL } from "./labels.js";
import { readCaKey } from "./ca-key.js";
import {
  createProxy,
  egressDir,
  egressNames,
  listeningLines,
  policyFileOf,
  startProxy,
  subnetOf,
  waitUntilListening,
  type EgressSettings,
  type ProxyCredentials,
} from "./sidecar.js";

/**
 * Brings back the proxy of a running bottle (it crashed, ran out of memory, was
 * killed or removed): the same container started again when it is still there,
 * so `logs --egress` keeps its history; else a new one from the policy file the
 * bottle's start left in the cache. The bottle is not touched: its proxy
 * variables name an address, which the anchor has held meanwhile (answering for
 * the proxy); the proxy comes back in the anchor's network namespace, at that
 * very address. A proxy that injected credentials is given them again the way
 * its first start gave them, on its stdin: the values from the host (its
 * environment, else `login`'s store, through `opts.credential`), the CA the
 * bottle trusts with the key its start kept (ca-key.ts).
 */
export async function restartEgress(
  api: EngineApi,
  bottle: string,
  info: Dockerode.ContainerInspectInfo,
  settings: EgressSettings,
  ctx: Pick<BackendContext, "emit" | "signal" | "cacheDir" | "logger" | "env">,
  opts: RestartProxyOptions = {},
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
    (text) => JSON.parse(text) as { credentials?: ProxyCredentials["bindings"] },
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
  const bindings = policy?.credentials ?? [];
  if (existing?.Config.OpenStdin && bindings.length === 0) {
    throw new BottleError(DockerErrorCodes.DOCKER_EGRESS_FAILED, `The egress proxy of ${bottle} injected credentials, but the policy its start wrote (${policyFile}) is gone: which ones is not known here.`, {
      hint: `Restart the bottle: claude-bottle stop ${bottle}, then claude-bottle start (its workspace and home are kept).`,
    });
  }
  const secrets = bindings.length ? await secretsAgain(bottle, bindings, ctx, opts) : undefined;
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
      ({ Id: id } = await createProxy(api, names, settings, policyFile, await subnetOf(api, network.Id), labels, secrets !== undefined));
    }
    await startProxy(api, id, secrets, settings);
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

/** What a proxy that injects credentials reads on its stdin, found again on the host; a value or the CA key that is nowhere stops here. */
async function secretsAgain(
  bottle: string,
  bindings: ProxyCredentials["bindings"],
  ctx: Pick<BackendContext, "cacheDir" | "env">,
  opts: RestartProxyOptions,
): Promise<Pick<ProxyCredentials, "ca" | "values">> {
  const [keyPem, certPem] = await Promise.all([readCaKey(ctx.env, bottle), readFile(join(egressDir(ctx.cacheDir), `${bottle}.ca.pem`), "utf8").catch(() => undefined)]);
  if (keyPem === undefined || certPem === undefined) {
    throw new BottleError(DockerErrorCodes.DOCKER_EGRESS_FAILED, `The egress proxy of ${bottle} injected credentials, and the bottle's CA ${keyPem === undefined ? "key" : "certificate"} its start kept is gone: a proxy with another CA would not be trusted by the agent.`, {
      hint: `Restart the bottle: claude-bottle stop ${bottle}, then claude-bottle start (its workspace and home are kept).`,
    });
  }
  const values: Record<string, string> = {};
  for (const env of new Set(bindings.map((b) => b.env))) {
    const value = ctx.env[env] || (await opts.credential?.(env));
    if (!value) {
      throw new BottleError(ErrorCodes.ENV_NOT_SET, `The egress proxy of ${bottle} injects ${env}, which is neither set here nor stored.`, {
        hint: `Set ${env} in your environment, or store it with claude-bottle login, then run claude-bottle proxy restart ${bottle} again.`,
      });
    }
    values[env] = value;
  }
  return { ca: { certPem, keyPem }, values };
}
