import type { Agent, ClientRequest, IncomingMessage, RequestOptions } from "node:http";
import { createRequire } from "node:module";
import type { Duplex } from "node:stream";
import type Dockerode from "dockerode";
import { loadSshAgent } from "../connect/load-dockerode.js";

/** Where the engine listens and how to reach it: dockerode's options of that kind, with the same meaning. */
export type EngineAddress = Pick<
  Dockerode.DockerOptions,
  "socketPath" | "host" | "port" | "protocol" | "ca" | "cert" | "key" | "username" | "sshOptions" | "headers" | "version"
> & {
  /** For ssh://. */
  password?: string;
  /** An http.Agent of the caller's, used for every request instead of Node's global one. */
  agent?: Agent;
  checkServerIdentity?: (host: string, cert: object) => Error | undefined;
};

/** The fields of a dockerode instance's modem this client reads; its socketPath may be a function of docker-modem's. */
type Modem = Omit<EngineAddress, "socketPath"> & { socketPath?: unknown; getSocketPath(): Promise<string> | undefined };

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface RequestInit {
  query?: Query;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as they are, with their content type (an archive), instead of a JSON body. */
  bytes?: { data: Buffer; type: string };
  signal?: AbortSignal;
}

/**
 * An HTTP error from the engine. It has the shape dockerode gives its own
 * (`statusCode`, and the engine's `{ message }` as `json`), so one set of
 * error helpers reads both.
 */
export class EngineError extends Error {
  constructor(
    readonly statusCode: number,
    readonly json: { message?: string } | undefined,
    what: string,
  ) {
    super(`${what} failed (HTTP ${statusCode}): ${json?.message ?? "no message from the engine"}`);
    this.name = "EngineError";
  }
}

/**
 * http and https are required, not imported: an ES import of a built-in reads
 * every export, and since Node 22 node:http has lazy getters (WebSocket,
 * CloseEvent, MessageEvent) that load undici, about 50 ms on every command.
 */
const require = createRequire(import.meta.url);
const { request: httpRequest } = require("node:http") as typeof import("node:http");

const fromDockerode = new WeakMap<Dockerode, EngineApi>();

/**
 * A small client for the Docker Engine API, on node:http. It serves the whole
 * life of a bottle (ping, inspect, create, attach, start, wait, list, stop,
 * remove, logs, exec, the home volume and its archive), so none of that loads
 * dockerode and its dependency tree (tens of milliseconds on every command);
 * dockerode stays for builds, pulls and pushes only. Paths are unversioned unless `version` pins one:
 * the engine answers with its own API version, as it does for dockerode.
 */
export class EngineApi {
  private readonly address: Promise<EngineAddress>;

  /** The address as given, or settled later (what a dockerode instance resolves on its first request). */
  constructor(address: EngineAddress | Promise<EngineAddress>) {
    this.address = Promise.resolve(address);
    // Observed by every request; unobserved here, a failure must not crash the host before the first one.
    this.address.catch(() => {});
  }

  /** The client for the engine a dockerode instance talks to (one per instance), reached the way its modem would. */
  static for(docker: Dockerode): EngineApi {
    let api = fromDockerode.get(docker);
    if (!api) {
      api = new EngineApi(addressOfModem(docker.modem as unknown as Modem));
      fromDockerode.set(docker, api);
    }
    return api;
  }

  /** Sends a request and parses the JSON answer; an empty answer (204, 304) is undefined. */
  async json<T>(method: string, path: string, init: RequestInit = {}): Promise<T> {
    const response = await this.request(method, path, init);
    const text = await readText(response);
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  /** Sends a request and resolves at the answer's headers, for a body read as it comes (wait, streams). */
  async request(method: string, path: string, init: RequestInit = {}): Promise<IncomingMessage> {
    const address = await this.address;
    return new Promise((resolve, reject) => {
      const req = send(address, method, path, init);
      req.on("error", reject);
      req.on("response", (response) => {
        if ((response.statusCode ?? 0) < 400) return resolve(response);
        rejectWithEngineMessage(response, `${method} ${path}`, reject);
      });
      req.end(init.bytes ? init.bytes.data : init.body === undefined ? undefined : JSON.stringify(init.body));
    });
  }

  /**
   * Upgrades a POST to a raw two-way stream, as `docker attach` and `docker
   * exec` do: the engine's output comes on it, the process's stdin goes into it.
   */
  async hijack(path: string, init: RequestInit = {}): Promise<Duplex> {
    const address = await this.address;
    return new Promise((resolve, reject) => {
      const req = send(address, "POST", path, init, { Connection: "Upgrade", Upgrade: "tcp" });
      req.on("error", reject);
      req.on("upgrade", (_response, socket, head) => {
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
      });
      req.on("response", (response) => {
        if ((response.statusCode ?? 0) >= 400) return rejectWithEngineMessage(response, `POST ${path}`, reject);
        response.resume();
        reject(new Error(`The engine answered POST ${path} with HTTP ${response.statusCode} instead of upgrading the connection.`));
      });
      req.end(init.body === undefined ? undefined : JSON.stringify(init.body));
    });
  }
}

function send(address: EngineAddress, method: string, path: string, init: RequestInit, extraHeaders: Record<string, string> = {}): ClientRequest {
  const headers: Record<string, string> = { ...address.headers, ...extraHeaders };
  if (init.bytes) headers["Content-Type"] = init.bytes.type;
  else if (init.body !== undefined) headers["Content-Type"] = "application/json";
  // A pinned API version prefixes every path, as dockerode's `version` option does.
  const prefix = address.version ? `/${address.version}` : "";
  const options: RequestOptions = { method, path: prefix + path + queryString(init.query), headers, signal: init.signal };
  if (address.agent) options.agent = address.agent;
  // Plain HTTP has no TLS server name; left unset, Node's agent works one out with net.isIP, whose
  // IPv6 expression costs ~5 ms on the first request and ~2 ms on each after.
  const plain = { servername: "" };
  if (address.socketPath) return httpRequest({ ...options, ...plain, socketPath: address.socketPath });
  const target = { ...options, host: address.host, port: address.port };
  if (address.protocol === "https") {
    // Required only here: https loads tls, ~6 ms that engines on a socket never need.
    const https = require("node:https") as typeof import("node:https");
    const { ca, cert, key, checkServerIdentity } = address;
    return https.request({ ...target, ca, cert, key, ...(checkServerIdentity ? { checkServerIdentity } : {}) });
  }
  if (address.protocol === "ssh") {
    // A new ssh connection per request, as dockerode makes: the agent ends with its stream.
    const { sshOptions, host, port, username, password } = address;
    return httpRequest({ ...target, ...plain, agent: loadSshAgent()({ ...sshOptions, host, port, username, password }) });
  }
  return httpRequest({ ...target, ...plain });
}

/**
 * A dockerode instance's address as its modem reaches it: the socket path it
 * finds on the first request (a function of docker-modem's by default), and a
 * host that may be written as a URL (`http://10.0.0.5`).
 */
async function addressOfModem(modem: Modem): Promise<EngineAddress> {
  const { host, port, protocol, ca, cert, key, username, password, sshOptions, headers, version, agent, checkServerIdentity } = modem;
  const common: EngineAddress = { ca, cert, key, username, password, sshOptions, headers, version, agent, checkServerIdentity };
  if (modem.socketPath) return { ...common, socketPath: await modem.getSocketPath() };
  const url = host?.includes("://") ? new URL(host) : undefined;
  const scheme = url?.protocol.slice(0, -1);
  return {
    ...common,
    host: url ? url.hostname : host,
    port,
    protocol: scheme === "http" || scheme === "https" || scheme === "ssh" ? scheme : protocol,
  };
}

function queryString(query: Query | undefined): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** The whole body of an answer, as text. */
export function readText(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => (text += chunk));
    response.on("end", () => resolve(text));
    response.on("error", reject);
  });
}

function rejectWithEngineMessage(response: IncomingMessage, what: string, reject: (error: Error) => void): void {
  readText(response).then((text) => {
    let json: { message?: string } | undefined;
    try {
      json = JSON.parse(text) as { message?: string };
    } catch {
      json = text.trim() ? { message: text.trim() } : undefined;
    }
    reject(new EngineError(response.statusCode ?? 0, json, what));
  }, reject);
}
