/**
 * The proxy server: parses the request, then decide (policy.ts), resolve and vet
 * (resolve.ts), connect (dial.ts, tunnel.ts, forward.ts). Every refusal answers 403
 * (502 when the name does not resolve), or 400/408/429/431 for a request refused
 * before the policy (request-checks.ts, limits.ts), and is recorded once to `onDenial`.
 */
import dns from "node:dns";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type net from "node:net";
import type { Duplex } from "node:stream";
import { normalizeHost, parseAuthority, type DenialRecord } from "@claude-bottle/core/egress-policy";
import { createAddressGuard } from "./addresses.js";
import { credentialHandler, type CredentialOptions } from "./credentials.js";
import type { DenialSink } from "./denials.js";
import { defaultConnect, dialVetted, type ConnectFunction } from "./dial.js";
import { forward } from "./forward.js";
import { connectionCounter, resolveLimits, type ProxyLimits } from "./limits.js";
import {
  compilePolicy,
  decide,
  policySuffix,
  type CompiledPolicy,
  type EgressPolicy,
  type Refusal,
} from "./policy.js";
import { cachedResolver, lookupAll, resolveAndVet, type LookupFunction, type VettedAddress } from "./resolve.js";
import { framingProblem, hostProblem, parseProblem, type RequestProblem } from "./request-checks.js";
import { sendRawText, sendText } from "./responses.js";
import { tunnel, type ConnectHandler, type ConnectTarget } from "./tunnel.js";

export interface EgressProxyOptions {
  /** Validated here; an invalid policy throws PolicyError before anything listens. */
  policy: EgressPolicy;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port (read it from the result). */
  port?: number;
  /** Name resolution, shaped like `dns.lookup`; default the real one. */
  lookup?: LookupFunction;
  /** The clock for denial records; default `() => new Date()`. */
  now?: () => Date;
  /** How long a name's addresses are reused (they are vetted again on each use); default 5000 ms, 0 for never. */
  dnsCacheMs?: number;
  /** Gets one record per refused request. An exception it throws is ignored. */
  onDenial?: DenialSink;
  /** Opens TCP connections to vetted IP addresses; default `net.connect`. */
  connect?: ConnectFunction;
  /** How long to wait for a target to accept a connection; default 10 s. */
  connectTimeoutMs?: number;
  /**
   * The seam for hosts handled in-process (TLS termination for credential injection):
   * called for each CONNECT that passed policy and vetting; return a handler to take
   * it over, or undefined for the plain tunnel.
   */
  connectHandler?: (target: ConnectTarget) => ConnectHandler | undefined;
  /**
   * Credential bindings and the bottle's CA: CONNECTs to bound hosts are terminated
   * here and their requests get the real values in their headers (see credentials.ts).
   * Validated here; CredentialError or CaError (never naming a value) if invalid.
   * Consulted before `connectHandler`.
   */
  credentials?: CredentialOptions;
  /** Header size and time, connections per client, idle tunnels (limits.ts); each defaults to DEFAULT_LIMITS. */
  limits?: Partial<ProxyLimits>;
  /** Called with errors no request is left to report to (a bug, or a sink that failed). */
  onError?: (err: unknown) => void;
}

export interface EgressProxy {
  /** Where it listens; `port` is the real port when 0 was asked for. */
  readonly address: { host: string; port: number; family: "IPv4" | "IPv6" };
  /** `http://host:port`, what HTTP_PROXY and HTTPS_PROXY take. */
  readonly url: string;
  /** The validated policy. */
  readonly policy: EgressPolicy;
  /** Stops listening and ends every open connection and tunnel. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const USAGE = "this is an egress proxy: send absolute-form requests (GET http://host/path) or CONNECT host:port";

type Target = { ok: true; host: string; port: number; addresses: VettedAddress[] } | { ok: false; host: string; port: number; refusal: Refusal };

/** Starts the proxy; resolves once it listens. */
export async function createEgressProxy(options: EgressProxyOptions): Promise<EgressProxy> {
  const policy: CompiledPolicy = compilePolicy(options.policy);
  const guard = createAddressGuard(policy);
  const suffix = policySuffix(policy);
  const lookup: LookupFunction = options.lookup ?? (dns.lookup as LookupFunction);
  const now = options.now ?? (() => new Date());
  const resolve = cachedResolver(lookupAll(lookup), options.dnsCacheMs ?? 5000, () => performance.now());
  const connect = options.connect ?? defaultConnect;
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  const limits = resolveLimits(options.limits);
  const perClient = connectionCounter(limits.maxConnectionsPerClient);
  const reportError = (err: unknown) => {
    try {
      options.onError?.(err);
    } catch {
      // nowhere left to report it
    }
  };

  const sockets = new Set<Duplex>();
  const track = <T extends Duplex>(socket: T): T => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    return socket;
  };
  const dial = (addresses: readonly VettedAddress[], port: number, signal?: AbortSignal) =>
    dialVetted(addresses, port, { connect, timeoutMs, signal }).then(track);

  const recordDenial = (host: string, port: number | null, { reason, detail }: Refusal) => {
    const record: DenialRecord = { time: now().toISOString(), host, port, reason, detail };
    try {
      options.onDenial?.(record);
    } catch (err) {
      reportError(err);
    }
  };

  /** Decide on the name, then resolve it and vet every address. Records a refusal. */
  async function vet(host: string, port: number): Promise<Target> {
    const decided = decide(policy, host, port);
    const outcome = decided ? ({ ok: false, ...decided } as const) : await resolveAndVet(host, port, guard, resolve, suffix);
    if (outcome.ok) return { ok: true, host, port, addresses: outcome.addresses };
    const { reason, detail } = outcome;
    recordDenial(host, port, { reason, detail });
    return { ok: false, host, port, refusal: { reason, detail } };
  }

  const boundHandler =
    options.credentials &&
    credentialHandler(options.credentials, {
      misuse: ({ host, port }, detail) => recordDenial(host, port, { reason: "credential-misuse", detail }),
      refused: ({ host, port }, problem) => recordDenial(host, port, problem),
      reportError,
    });

  const statusOf = (refusal: Refusal) => (refusal.reason === "resolve-failed" ? 502 : 403);

  /** Sockets already answered with a refusal: whatever the parser still makes of them is dropped. */
  const refused = new WeakSet<Duplex>();
  /** A request refused before the policy: recorded, answered on the raw socket, closed. */
  const refuseRaw = (socket: Duplex, target: { host: string; port: number | null }, problem: RequestProblem) => {
    refused.add(socket);
    recordDenial(target.host, target.port, problem);
    sendRawText(socket, problem.status, problem.detail);
  };
  const refuseParsed = (res: ServerResponse, target: { host: string; port: number | null }, problem: RequestProblem) => {
    refused.add(res.socket as Duplex);
    recordDenial(target.host, target.port, problem);
    // Its body, if any, is not read: the connection closes after the answer.
    res.shouldKeepAlive = false;
    sendText(res, problem.status, problem.detail);
  };
  const badRequest = (detail: string): RequestProblem => ({ status: 400, reason: "bad-request", detail });
  /** Where this proxy listens, once it does (no request arrives before): a Host naming it names no other target. */
  let self = { host: "", port: 0 };
  const NO_TARGET = { host: "", port: null };

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (refused.has(req.socket)) return void res.destroy();
    let url: URL;
    try {
      url = new URL(req.url ?? "");
    } catch {
      refuseParsed(res, NO_TARGET, badRequest(`"${req.method} ${req.url}" is not a proxy request; ${USAGE}`));
      return;
    }
    if (url.protocol !== "http:") {
      const hint = url.protocol === "https:" ? "; for https use CONNECT (set HTTPS_PROXY)" : "";
      refuseParsed(res, NO_TARGET, badRequest(`${url.protocol} URLs are not proxied here${hint}; ${USAGE}`));
      return;
    }
    const host = normalizeHost(url.hostname);
    if (host === undefined) {
      refuseParsed(res, NO_TARGET, badRequest(`"${url.hostname}" is not a host name`));
      return;
    }
    const port = url.port === "" ? 80 : Number(url.port);
    // Before the policy: a request that could mean two things is never vetted, let alone sent.
    const problem = framingProblem(req) ?? hostProblem(req, { host, port }, 80, self);
    if (problem) {
      refuseParsed(res, { host, port }, problem);
      return;
    }
    const target = await vet(host, port);
    if (!target.ok) {
      sendText(res, statusOf(target.refusal), target.refusal.detail);
      return;
    }
    await forward(req, res, { host, port, url }, (signal) => dial(target.addresses, port, signal));
  }

  async function onConnect(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    if (refused.has(client)) return void client.destroy();
    const authority = parseAuthority(req.url ?? "");
    if (authority === undefined) {
      const shown = (req.url ?? "").replace(/[^\x20-\x7e]/g, "?").slice(0, 300);
      refuseRaw(client, NO_TARGET, badRequest(`"CONNECT ${shown}" needs a host and a port (CONNECT example.com:443) (rule: connect-target); ${USAGE}`));
      return;
    }
    const problem = hostProblem(req, authority, undefined, self);
    if (problem) {
      refuseRaw(client, authority, problem);
      return;
    }
    const target = await vet(authority.host, authority.port);
    if (!target.ok) {
      sendRawText(client, statusOf(target.refusal), target.refusal.detail);
      return;
    }
    if (client.destroyed) return;
    const connectTarget: ConnectTarget = { host: target.host, port: target.port, addresses: target.addresses };
    const handler = boundHandler?.(connectTarget) ?? options.connectHandler?.(connectTarget) ?? tunnel;
    await handler({ target: connectTarget, client, head, dial: () => dial(target.addresses, target.port), idleMs: limits.tunnelIdleMs });
  }

  const server = http.createServer({
    // A body may stream for as long as it takes; only the headers are timed (slowloris).
    requestTimeout: 0,
    headersTimeout: limits.headersTimeoutMs,
    // How often Node looks for connections past headersTimeout: its default (30 s) would let a slow client stay that long.
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    maxHeaderSize: limits.maxHeaderBytes,
    noDelay: true,
  });
  server.on("connection", (socket: net.Socket) => {
    track(socket);
    const client = socket.remoteAddress ?? "";
    if (!perClient.admit(socket, client)) {
      refuseRaw(socket, NO_TARGET, {
        status: 429,
        reason: "too-many-connections",
        detail: `${client} has ${perClient.open(client)} connections open to this proxy, its limit (rule: max-connections-per-client); close some and retry`,
      });
    }
  });
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    onRequest(req, res).catch((err) => {
      reportError(err);
      res.destroy();
    });
  });
  server.on("connect", (req: IncomingMessage, client: Duplex, head: Buffer) => {
    client.on("error", () => client.destroy());
    onConnect(req, client, head).catch((err) => {
      reportError(err);
      client.destroy();
    });
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === "ECONNRESET" || err.code === "EPIPE") {
      socket.destroy();
      return;
    }
    // Already answered (a request refused on its headers, whose body the parser then choked on): the answer closes it.
    if (refused.has(socket)) return;
    refuseRaw(socket, NO_TARGET, parseProblem(err.code, limits));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", reportError);
  const bound = server.address() as net.AddressInfo;
  const address = { host: bound.address, port: bound.port, family: bound.family as "IPv4" | "IPv6" };
  self = { host: normalizeHost(bound.address) ?? bound.address, port: bound.port };
  const urlHost = address.family === "IPv6" ? `[${address.host}]` : address.host;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
    return closing;
  };
  return {
    address,
    url: `http://${urlHost}:${address.port}`,
    policy: policy.source,
    close,
    [Symbol.asyncDispose]: close,
  };
}
