import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BottleError, Labels, phase, throwIfAborted, toolLabels, type BackendContext, type NetworkPolicy } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { engineMessage, statusCodeOf } from "@claude-bottle/docker-engine";
import { DockerErrorCodes } from "../errors.js";
import { BACKEND_NAME } from "../container/labels.js";
import { ownerLabels } from "../container/owner.js";
import { EGRESS_FOR_LABEL } from "./labels.js";
import { removeHostServices, stopHostServices } from "../ports/host-services.js";
import { removePublishedPorts, stopPublishedPorts } from "../ports/publish.js";
import { forgetCaKey, keepCaKey } from "./ca-key.js";

/** The port the proxy listens on, inside the bottle's network. */
export const PROXY_PORT = 3128;

/** Where the bottle's egress goes: its own network, and the proxy on it. */
export interface Egress {
  /** The bottle's network: internal (no route out), no address for the host on it. */
  network: string;
  /** `http://IP:3128`, the proxy's address on that network. */
  proxyUrl: string;
  /** A resolv.conf that resolves nothing: names are the proxy's business. */
  resolvConf: string;
  /** For credential bindings: what the bottle holds instead of each value, and the CA it must trust. */
  credentials?: BottleCredentials;
  /**
   * Resolves once the proxy listens; rejects (DOCKER_EGRESS_FAILED) if it does
   * not. The bottle can be created before (its address is the anchor's, known
   * already), and must not start before: nothing would answer it but the anchor's 503.
   */
  listening: Promise<void>;
}

/** The bottle's side of its credentials: placeholders by variable, and where the CA that vouches for the bound hosts is. */
export interface BottleCredentials {
  placeholders: Readonly<Record<string, string>>;
  /** The bottle's CA certificate alone (NODE_EXTRA_CA_CERTS). */
  caFile: string;
  /** The host's CA bundle plus the bottle's CA (SSL_CERT_FILE and the like), when the host has a bundle. */
  bundleFile?: string;
}

/** What the proxy needs to write credentials: the bindings (no values), and the values and the CA key, which go by stdin only. */
export interface ProxyCredentials {
  bindings: readonly { env: string; hosts: readonly string[]; placeholder: string }[];
  values: Readonly<Record<string, string>>;
  ca: { certPem: string; keyPem: string };
}

/** Settings for machines that need more than the policy (tests, a compose stack the user names). */
export interface EgressSettings {
  /** The proxy's image (default: CLAUDE_BOTTLE_PROXY_IMAGE, else the pinned official Node image). */
  image: string;
  /** name → IP entries for the proxy's /etc/hosts: names it resolves without DNS. */
  extraHosts?: Readonly<Record<string, string>>;
  /** DNS servers for the proxy (default: the engine's). */
  dns?: readonly string[];
  /** More networks the proxy joins, so a policy (with allowPrivate) can reach containers on them. */
  networks?: readonly string[];
  /** A CA the proxy trusts for the servers of bound hosts, besides Node's own (tests, a company's TLS inspection). */
  upstreamCa?: string;
}

const SCRIPT_TARGET = "/opt/claude-bottle/egress/main.js";
const POLICY_TARGET = "/opt/claude-bottle/egress/policy.json";
const ANCHOR_TARGET = "/opt/claude-bottle/egress/anchor.js";

/** The proxy: one self-contained file of @claude-bottle/egress-proxy, run by a bare `node`. */
export function proxyScriptPath(): string {
  return createRequire(import.meta.url).resolve("@claude-bottle/egress-proxy/main.js");
}

/** What the anchor and the proxy run under: no root filesystem to write, no capability, no new privileges, bounded. */
export function lockedDown(memory: number, pids: number): Dockerode.HostConfig {
  return { ReadonlyRootfs: true, CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges"], Memory: memory, MemorySwap: memory, PidsLimit: pids };
}

/** Where a bottle's egress files are kept (the policy, its CA): `<bottle>.<suffix>`, beside the shared resolv.conf. */
export function egressDir(cacheDir: string): string {
  return join(cacheDir, "docker", "egress");
}

export const EGRESS_FILE_SUFFIXES = ["policy.json", "ca.pem", "bundle.pem"] as const;

/** The anchor, the same way: it holds the proxy's address (see the egress proxy's anchor.ts). */
function anchorScriptPath(): string {
  return createRequire(import.meta.url).resolve("@claude-bottle/egress-proxy/anchor.js");
}

export interface EgressNames {
  network: string;
  proxy: string;
  /** The container whose network namespace the proxy runs in: the address outlives the proxy. */
  anchor: string;
}

export function egressNames(bottle: string): EgressNames {
  return { network: `${bottle}-net`, proxy: `${bottle}-egress`, anchor: `${bottle}-egress-anchor` };
}

/**
 * Gives a bottle its way out (SECURITY.md point 3): a network of its own
 * with no route out and no address of the host on it, and a proxy container
 * on that network and the engine's default one, which lets through only what
 * the policy allows, resolving names itself and refusing private addresses.
 * The proxy listens only on its address on the bottle's network.
 * Resolves once the anchor holds the address, with the proxy still starting
 * (`listening`), so the bottle's create overlaps the proxy's start. A failure
 * before resolving removes what was made; after, the caller removes it.
 */
export async function startEgress(
  api: EngineApi,
  bottle: string,
  policy: NetworkPolicy,
  settings: EgressSettings,
  ctx: Pick<BackendContext, "emit" | "signal" | "cacheDir" | "env">,
  credentials?: ProxyCredentials,
): Promise<Egress> {
  return phase(ctx, "egress", "Starting the egress proxy", async () => {
    const names = egressNames(bottle);
    const labels = toolLabels({ [Labels.backend]: BACKEND_NAME, [EGRESS_FOR_LABEL]: bottle });
    try {
      const network = await api.json<{ Id: string }>("POST", "/networks/create", {
        body: {
          Name: names.network,
          CheckDuplicate: true,
          // No route out, and the host has no address on it: the proxy is the only thing the bottle can reach.
          Internal: true,
          Options: { "com.docker.network.bridge.inhibit_ipv4": "true" },
          // Its owner, so that another process's reap leaves it alone while this start builds (egress/reap.ts).
          Labels: { ...labels, ...ownerLabels() },
        },
      });
      // After the network: a reaper that finds these files without their network knows they are left over.
      const files = await writeEgressFiles(ctx.cacheDir, bottle, credentials ? { ...policy, credentials: credentials.bindings } : policy);
      const subnet = await subnetOf(api, network.Id);
      const anchor = await createAnchor(api, bottle, names, settings, subnet, labels);
      // The proxy waits for the anchor by itself (it retries its socket): no need to wait for the anchor here.
      const [, created] = await Promise.all([
        api.json("POST", `/containers/${anchor}/start`),
        createProxy(api, names, settings, files.policy, subnet, labels, credentials !== undefined),
      ]);
      // Kept for a restart of the proxy alone (ca-key.ts); after the network, so the reaper knows whose it is.
      if (credentials) await keepCaKey(ctx.env, bottle, credentials.ca.keyPem);
      // Started while the caller creates the bottle: a create does not need the proxy, only its address.
      const listening = phase(ctx, "proxy", "Waiting for the egress proxy", async () => {
        await startProxy(api, created.Id, credentials && { ca: credentials.ca, values: credentials.values }, settings);
        await waitUntilListening(api, created.Id, ctx.signal);
      }).catch((error: unknown) => {
        throw egressError(error, ctx.signal);
      });
      // Observed here too: a caller that fails before awaiting it (a build error) leaves no unhandled rejection.
      listening.catch(() => {});
      // The address is the anchor's: the proxy has none of its own.
      const info = await api.json<Dockerode.ContainerInspectInfo>("GET", `/containers/${anchor}/json`);
      const address = info.NetworkSettings.Networks[names.network]?.IPAddress;
      if (!address) throw new Error(`the egress proxy has no address on ${names.network}`);
      return {
        network: names.network,
        proxyUrl: `http://${address}:${PROXY_PORT}`,
        resolvConf: files.resolvConf,
        ...(credentials && { credentials: await writeBottleCa(ctx.cacheDir, bottle, credentials) }),
        listening,
      };
    } catch (error) {
      await removeEgress(api, bottle, ctx.cacheDir, ctx.env);
      throw egressError(error, ctx.signal);
    }
  });
}

/** A failure of the egress as the user sees it: ours as it is, the engine's with what to do. */
function egressError(error: unknown, signal: AbortSignal): unknown {
  if (BottleError.isInstance(error) || signal.aborted) return error;
  return new BottleError(DockerErrorCodes.DOCKER_EGRESS_FAILED, `The egress proxy could not start: ${engineMessage(error)}`, {
    hint: "Run `claude-bottle doctor`; on an air-gapped machine set CLAUDE_BOTTLE_PROXY_IMAGE to a Node image the engine has.",
    cause: error,
  });
}

/**
 * The anchor: a container on the bottle's network, the default bridge (the way out)
 * and the networks the settings name, whose network namespace the proxy joins. It
 * answers for the proxy (a 503 naming it) while the proxy is down, so a dead proxy
 * is a clear, immediate error in the bottle rather than connections that hang, and
 * a restarted proxy has the same address. Created and connected, not started.
 */
async function createAnchor(
  api: EngineApi,
  bottle: string,
  names: EgressNames,
  settings: EgressSettings,
  subnet: string,
  labels: Record<string, string>,
): Promise<string> {
  const { Id } = await api.json<{ Id: string }>("POST", "/containers/create", {
    query: { name: names.anchor },
    body: {
      Image: settings.image,
      Entrypoint: ["node"],
      Cmd: [ANCHOR_TARGET, "--listen-in", subnet, "--port", String(PROXY_PORT), "--bottle", bottle],
      User: "65534:65534",
      Labels: labels,
      HostConfig: {
        NetworkMode: names.network,
        Mounts: [{ Type: "bind", Source: anchorScriptPath(), Target: ANCHOR_TARGET, ReadOnly: true }],
        ...lockedDown(64 * 2 ** 20, 16),
        // The namespace's hosts file and DNS are the anchor's: the proxy, which joins it, resolves with them.
        ...(settings.extraHosts && { ExtraHosts: Object.entries(settings.extraHosts).map(([name, ip]) => `${name}:${ip}`) }),
        ...(settings.dns && { Dns: [...settings.dns] }),
      },
    } satisfies Dockerode.ContainerCreateOptions,
  });
  for (const network of ["bridge", ...(settings.networks ?? [])]) {
    await api.json("POST", `/networks/${encodeURIComponent(network)}/connect`, { body: { Container: Id } });
  }
  return Id;
}

/** The proxy's container, in the anchor's network namespace; not started. */
export async function createProxy(
  api: EngineApi,
  names: EgressNames,
  settings: EgressSettings,
  policyFile: string,
  subnet: string,
  labels: Record<string, string>,
  secretsOnStdin: boolean,
): Promise<{ Id: string }> {
  return api.json<{ Id: string }>("POST", "/containers/create", {
    query: { name: names.proxy },
    body: proxyContainer(settings, policyFile, { anchor: names.anchor, subnet }, labels, secretsOnStdin),
  });
}

/**
 * Starts the proxy's container; with secrets, writes them on its stdin, the one
 * way in: never its argv, its environment (docker inspect) or a file.
 */
export async function startProxy(
  api: EngineApi,
  id: string,
  secrets: Pick<ProxyCredentials, "ca" | "values"> | undefined,
  settings: Pick<EgressSettings, "upstreamCa">,
): Promise<void> {
  const stdin = secrets ? await api.hijack(`/containers/${id}/attach`, { query: { stream: true, stdin: true } }) : undefined;
  await api.json("POST", `/containers/${id}/start`);
  if (stdin && secrets) stdin.end(JSON.stringify({ ca: secrets.ca, values: secrets.values, ...(settings.upstreamCa && { upstreamCa: settings.upstreamCa }) }));
}

/** The IPv4 subnet the engine gave a network. */
export async function subnetOf(api: EngineApi, id: string): Promise<string> {
  const info = await api.json<Dockerode.NetworkInspectInfo>("GET", `/networks/${id}`);
  const subnet = info.IPAM?.Config?.map((c) => c.Subnet).find((s): s is string => s !== undefined && s.includes("."));
  if (!subnet) throw new Error(`the network ${info.Name} has no IPv4 subnet`);
  return subnet;
}

function proxyContainer(
  settings: EgressSettings,
  policyFile: string,
  network: { anchor: string; subnet: string },
  labels: Record<string, string>,
  secretsOnStdin: boolean,
): Dockerode.ContainerCreateOptions {
  return {
    Image: settings.image,
    Entrypoint: ["node"],
    // Only its address on the bottle's network: on the default bridge (its way out) and on any network it
    // joins for a policy, nothing listens, so no other container there can use it or its credentials.
    Cmd: [
      SCRIPT_TARGET,
      "--policy",
      POLICY_TARGET,
      "--listen",
      `0.0.0.0:${PROXY_PORT}`,
      "--listen-in",
      network.subnet,
      "--denials",
      "-",
      "--anchor",
      ...(secretsOnStdin ? ["--secrets-from-stdin"] : []),
    ],
    ...(secretsOnStdin && { OpenStdin: true, StdinOnce: true, AttachStdin: true }),
    // Nobody, read-only, no capability: the proxy needs a socket to listen on and nothing else.
    User: "65534:65534",
    Labels: labels,
    HostConfig: {
      NetworkMode: `container:${network.anchor}`,
      Mounts: [
        { Type: "bind", Source: proxyScriptPath(), Target: SCRIPT_TARGET, ReadOnly: true },
        { Type: "bind", Source: policyFile, Target: POLICY_TARGET, ReadOnly: true },
      ],
      ...lockedDown(256 * 2 ** 20, 64),
    },
  };
}

/**
 * The bottle's CA certificate (public: the key stays in the proxy's memory)
 * and, where the host has a CA bundle, that bundle with the bottle's CA
 * appended, for tools that read one file (curl, Python, git).
 */
async function writeBottleCa(cacheDir: string, bottle: string, credentials: ProxyCredentials): Promise<BottleCredentials> {
  const dir = egressDir(cacheDir);
  const caFile = join(dir, `${bottle}.ca.pem`);
  await writeFile(caFile, credentials.ca.certPem, { mode: 0o644 });
  const hostBundle = HOST_CA_BUNDLES.find((path) => existsSync(path));
  let bundleFile: string | undefined;
  if (hostBundle) {
    bundleFile = join(dir, `${bottle}.bundle.pem`);
    await writeFile(bundleFile, `${await readFile(hostBundle, "utf8")}\n${credentials.ca.certPem}`, { mode: 0o644 });
  }
  return {
    placeholders: Object.fromEntries(credentials.bindings.map((b) => [b.env, b.placeholder])),
    caFile,
    ...(bundleFile && { bundleFile }),
  };
}

/** Where hosts keep the CA bundle OpenSSL-based tools read (Debian/Ubuntu/Alpine, Fedora/RHEL, macOS with Homebrew's OpenSSL). */
const HOST_CA_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

/** Where a bottle's policy file is kept while the bottle exists (a restarted proxy reads it again). */
export function policyFileOf(cacheDir: string, bottle: string): string {
  return join(egressDir(cacheDir), `${bottle}.policy.json`);
}

/** The policy (names only, never a secret) and the resolv.conf, in the cache, readable by the proxy's user. */
async function writeEgressFiles(cacheDir: string, bottle: string, policy: object): Promise<{ policy: string; resolvConf: string }> {
  const dir = egressDir(cacheDir);
  await mkdir(dir, { recursive: true });
  const policyFile = policyFileOf(cacheDir, bottle);
  await writeFile(policyFile, JSON.stringify(policy), { mode: 0o644 });
  const resolvConf = join(dir, "no-dns.resolv.conf");
  // Nothing answers on the bottle's own loopback: a lookup from inside fails at once, and leaves nothing.
  await writeFile(resolvConf, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n", { mode: 0o644 });
  return { policy: policyFile, resolvConf };
}

/** The proxy's output so far (stdout and stderr, as the engine keeps it). */
async function proxyOutput(api: EngineApi, id: string): Promise<string> {
  const response = await api.request("GET", `/containers/${id}/logs`, { query: { stdout: true, stderr: true } });
  let text = "";
  for await (const chunk of response) text += (chunk as Buffer).toString("latin1");
  return text;
}

/** How many times the proxy has said it listens: once per start, so a restart waits for one more than before. */
export async function listeningLines(api: EngineApi, id: string): Promise<number> {
  return (await proxyOutput(api, id)).split("listening on").length - 1;
}

/** Polls the proxy's output for a "listening on" line beyond the `before` of earlier runs (it prints one once bound). */
export async function waitUntilListening(api: EngineApi, id: string, signal: AbortSignal, before = 0): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const text = await proxyOutput(api, id);
    if (text.split("listening on").length - 1 > before) return;
    const state = await api.json<Dockerode.ContainerInspectInfo>("GET", `/containers/${id}/json`);
    if (!state.State.Running) throw new Error(`the proxy exited (${state.State.ExitCode}): ${text.replace(/[^\x20-\x7e\n]/g, "").trim().slice(-400)}`);
    throwIfAborted(signal);
    if (Date.now() > deadline) throw new Error("the proxy did not start listening within 15 s");
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

/** Removes a bottle's proxy and network, its published ports and host services (and with `env`, its kept CA key); what is already gone is fine. */
export async function removeEgress(api: EngineApi, bottle: string, cacheDir?: string, env?: Readonly<Record<string, string | undefined>>): Promise<void> {
  const names = egressNames(bottle);
  const ignoreMissing = (error: unknown) => {
    if (statusCodeOf(error) !== 404) throw error;
  };
  // First: they are on the bottle's network or in the anchor's namespace.
  await removePublishedPorts(api, bottle);
  await removeHostServices(api, bottle);
  await api.json("DELETE", `/containers/${names.proxy}`, { query: { force: true } }).catch(ignoreMissing);
  await api.json("DELETE", `/containers/${names.anchor}`, { query: { force: true } }).catch(ignoreMissing);
  await api.json("DELETE", `/networks/${names.network}`).catch(ignoreMissing);
  if (cacheDir) {
    for (const suffix of EGRESS_FILE_SUFFIXES) await rm(join(egressDir(cacheDir), `${bottle}.${suffix}`), { force: true });
  }
  if (env) await forgetCaKey(env, bottle);
}

/**
 * Removes a finished attached bottle's proxy and network from a detached
 * process, so the user does not wait for it. Falls back to removing here when
 * the built entry is not there (running from sources).
 */
export async function removeEgressInBackground(api: EngineApi, bottle: string, cacheDir: string, env: Readonly<Record<string, string | undefined>>): Promise<void> {
  const script = join(dirname(fileURLToPath(import.meta.url)), "egress", "remove-detached.js");
  if (!existsSync(script)) return removeEgress(api, bottle, cacheDir, env);
  const child = spawn(process.execPath, [script, bottle, cacheDir], { detached: true, stdio: "ignore", env: env as NodeJS.ProcessEnv });
  child.on("error", () => {});
  child.unref();
}

/** Stops a detached bottle's proxy and anchor with it (and its published ports and host services); `rm` removes them. */
export async function stopEgress(api: EngineApi, bottle: string): Promise<void> {
  const names = egressNames(bottle);
  await stopPublishedPorts(api, bottle);
  await stopHostServices(api, bottle);
  for (const container of [names.proxy, names.anchor]) {
    await api.json("POST", `/containers/${container}/stop`, { query: { t: 1 } }).catch((error: unknown) => {
      if (statusCodeOf(error) !== 404) throw error;
    });
  }
}
