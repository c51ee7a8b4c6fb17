import type { Agent, ClientRequest, IncomingMessage, RequestOptions } from "node:http";
import { createRequire } from "node:module";
import type { Duplex } from "node:stream";
import type Dockerode from "dockerode";
import { loadSshAgent } from "../connect/load-dockerode.js";

/** Where the engine listens: the subset of dockerode's options that says how to reach it. */
export type EngineAddress = Pick<
  Dockerode.DockerOptions,
  "socketPath" | "host" | "port" | "protocol" | "ca" | "cert" | "key" | "username" | "sshOptions"
>;

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface RequestInit {
  query?: Query;
  /** Sent as JSON. */
  body?: unknown;
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
 * A small client for the Docker Engine API, on node:http. It serves every
 * call a warm start and `ls` make (ping, inspect, create, attach, start,
 * wait, list), so those never load dockerode and its dependency tree (tens
 * of milliseconds on every command); dockerode stays for builds, pulls,
 * pushes, logs and exec. Paths are unversioned: the engine answers with its
 * own API version, as it does for dockerode.
 */
export class EngineApi {
  constructor(private readonly address: EngineAddress) {}

  /** The client for the engine a dockerode instance talks to (one per instance). */
  static for(docker: Dockerode): EngineApi {
    let api = fromDockerode.get(docker);
    if (!api) {
      const modem = docker.modem as EngineAddress;
      api = new EngineApi({
        socketPath: modem.socketPath,
        host: modem.host,
        port: modem.port,
        protocol: modem.protocol,
        ca: modem.ca,
        cert: modem.cert,
        key: modem.key,
        username: modem.username,
        sshOptions: modem.sshOptions,
      });
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
  request(method: string, path: string, init: RequestInit = {}): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = this.send(method, path, init);
      req.on("error", reject);
      req.on("response", (response) => {
        if ((response.statusCode ?? 0) < 400) return resolve(response);
        rejectWithEngineMessage(response, `${method} ${path}`, reject);
      });
      req.end(init.body === undefined ? undefined : JSON.stringify(init.body));
    });
  }

  /**
   * Upgrades a POST to a raw two-way stream, as `docker attach` and `docker
   * exec` do: the engine's output comes on it, the process's stdin goes into it.
   */
  hijack(path: string, init: RequestInit = {}): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const req = this.send("POST", path, init, { Connection: "Upgrade", Upgrade: "tcp" });
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

  private send(method: string, path: string, init: RequestInit, extraHeaders: Record<string, string> = {}): ClientRequest {
    const { address } = this;
    const headers: Record<string, string> = { ...extraHeaders };
    if (init.body !== undefined) headers["Content-Type"] = "application/json";
    const options: RequestOptions = { method, path: path + queryString(init.query), headers, signal: init.signal };
    if (address.socketPath) return httpRequest({ ...options, socketPath: address.socketPath });
    const target = { ...options, host: address.host, port: address.port };
    if (address.protocol === "https") {
      // Required only here: https loads tls, ~6 ms that engines on a socket never need.
      const https = require("node:https") as typeof import("node:https");
      return https.request({ ...target, ca: address.ca, cert: address.cert, key: address.key });
    }
    if (address.protocol === "ssh") return httpRequest({ ...target, agent: this.sshAgent() });
    return httpRequest(target);
  }

  /** A new ssh connection per request, as dockerode makes: the agent ends with its stream. */
  private sshAgent(): Agent {
    const { address } = this;
    return loadSshAgent()({ ...address.sshOptions, host: address.host, port: address.port, username: address.username });
  }
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
