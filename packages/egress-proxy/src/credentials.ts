/**
 * Credential bindings (SECURITY.md point 4): the bottle holds a placeholder, and the
 * proxy writes the real value into the request headers of HTTPS requests to the hosts
 * the value belongs to, and nowhere else.
 *
 * For a CONNECT to a bound host (after policy and vetting), the proxy answers 200,
 * terminates TLS itself with a leaf signed by the bottle's CA, reads each HTTP/1.1
 * request, checks it (origin-form, Host is the CONNECT host, no placeholder in the URL
 * or the body), replaces placeholders in header values, and sends it over TLS
 * (verified) to the vetted address. Answers stream back with any value turned back
 * into its placeholder, scanned after their codings are undone (decode.ts): the
 * request asks for identity, and a compressed answer is decoded and passed on
 * plain. Every other CONNECT stays a plain tunnel.
 *
 * Nothing here puts a value into a message, a record or an error.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { isIP, type Socket } from "node:net";
import { pipeline, Transform, type Duplex } from "node:stream";
import tls from "node:tls";
import { formatAuthority, hostMatches, parseHostAndPort, parseNamePattern, type HostPattern } from "@claude-bottle/core/egress-policy";
import { decodingFor } from "./decode.js";
import { endToEndHeaders } from "./forward.js";
import { framingProblem, parseProblem, type RequestProblem } from "./request-checks.js";
import { sendRawText, sendText } from "./responses.js";
import { StreamMatcher, findIn } from "./scan.js";
import { establish, type ConnectHandler, type ConnectTarget } from "./tunnel.js";
import { leafContexts, loadCa, type BottleCa } from "./x509.js";

export interface CredentialBinding {
  /** The variable the bottle sees (with the placeholder in it), e.g. ANTHROPIC_API_KEY; used in messages. */
  env: string;
  /** Where the value may go: host names or `*.domain` patterns (optionally `:port`), as in a policy. Not IP addresses. */
  hosts: string[];
  /** What the bottle holds instead of the value: 8 to 1024 visible ASCII characters. */
  placeholder: string;
  /** The secret. Never in a message, a record or an error. */
  value: string;
}

export interface CredentialOptions {
  bindings: CredentialBinding[];
  /** The bottle's CA (see createBottleCa); the proxy signs leaves for bound hosts with it. */
  ca: BottleCa;
  /** More CA certificates (PEM) to trust for the real upstreams, besides Node's own (for tests). */
  upstreamCa?: string | string[];
  /**
   * A request body to a bound host up to this size (default 8 MiB) is read whole and
   * scanned before anything is sent; a larger one is sent as it comes, scanned in a
   * rolling window, and the upstream request is aborted before the bytes of a
   * placeholder would be sent.
   */
  maxBufferedBody?: number;
}

export class CredentialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CredentialError";
  }
}

export interface CompiledBinding {
  env: string;
  hosts: HostPattern[];
  placeholder: string;
  value: string;
}

const ENV = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PLACEHOLDER = /^[\x21-\x7e]{8,1024}$/;
/** What Node lets into a header value: no control characters but tab. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]+$/;

/** Validates bindings; messages name the binding and field, never a value. */
export function compileBindings(input: unknown): CompiledBinding[] {
  if (!Array.isArray(input)) throw new CredentialError("credentials must be a list of { env, hosts, placeholder, value }");
  const out: CompiledBinding[] = [];
  for (const [i, raw] of input.entries()) {
    const where = `credentials[${i}]`;
    if (typeof raw !== "object" || raw === null) throw new CredentialError(`${where} must be an object { env, hosts, placeholder, value }`);
    const b = raw as Record<string, unknown>;
    for (const key of Object.keys(b)) {
      if (!["env", "hosts", "placeholder", "value"].includes(key)) throw new CredentialError(`${where}.${key} is not a binding field (env, hosts, placeholder, value)`);
    }
    if (typeof b.env !== "string" || !ENV.test(b.env)) throw new CredentialError(`${where}.env must be a variable name`);
    const name = `${where} (${b.env})`;
    if (out.some((o) => o.env === b.env)) throw new CredentialError(`${name}: ${b.env} is bound twice`);
    if (!Array.isArray(b.hosts) || b.hosts.length === 0) throw new CredentialError(`${name}.hosts must be a non-empty list of host names`);
    const hosts = b.hosts.map((h: unknown, j) => {
      const parsed = parseNamePattern(h as string);
      if (typeof parsed === "string") throw new CredentialError(`${name}.hosts[${j}]: ${parsed}`);
      return parsed;
    });
    if (typeof b.placeholder !== "string" || !PLACEHOLDER.test(b.placeholder)) {
      throw new CredentialError(`${name}.placeholder must be 8 to 1024 visible ASCII characters`);
    }
    if (typeof b.value !== "string" || !HEADER_VALUE.test(b.value)) {
      throw new CredentialError(`${name}.value must be a non-empty string without control characters (it goes into a header)`);
    }
    if (b.value === b.placeholder) throw new CredentialError(`${name}: the value and the placeholder are the same`);
    for (const other of out) {
      if (other.placeholder.includes(b.placeholder) || b.placeholder.includes(other.placeholder)) {
        throw new CredentialError(`${name}: its placeholder and that of ${other.env} overlap; each must be distinct`);
      }
    }
    out.push({ env: b.env, hosts, placeholder: b.placeholder, value: b.value });
  }
  return out;
}

/** The bindings whose hosts include this one. */
export function bindingsFor(bindings: readonly CompiledBinding[], host: string, port: number): CompiledBinding[] {
  return bindings.filter((b) => b.hosts.some((p) => hostMatches(p, host, port)));
}

/** Records a refusal (denial record, reason credential-misuse) and returns its sentence. */
export type MisuseSink = (target: { host: string; port: number }, detail: string) => void;

interface Bound {
  target: ConnectTarget;
  bindings: CompiledBinding[];
}

function decodeUrl(url: string): string {
  try {
    return decodeURIComponent(url);
  } catch {
    return url.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
}

/** Replaces each binding's `from` with its `to` in a header value. */
function replaceAll(text: string, pairs: readonly (readonly [string, string])[]): string {
  let out = text;
  for (const [from, to] of pairs) if (out.includes(from)) out = out.split(from).join(to);
  return out;
}

/** A Transform that turns values back into placeholders in a streamed answer. */
function scrubber(bindings: readonly CompiledBinding[]): Transform {
  const matcher = new StreamMatcher(
    bindings.map((b) => Buffer.from(b.value)),
    bindings.map((b) => Buffer.from(b.placeholder)),
  );
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const { out } = matcher.push(chunk);
      callback(null, out.length > 0 ? out : undefined);
    },
    flush(callback) {
      const rest = matcher.end();
      callback(null, rest.length > 0 ? rest : undefined);
    },
  });
}

/**
 * An agent for one client connection: its sockets are TLS to the bound host over
 * dial(). The first is the one dialled for the CONNECT, whose TLS handshake starts at
 * once, alongside the client's; an error it meets before a request takes it is kept
 * for that request.
 */
class UpstreamAgent extends http.Agent {
  private first: { socket: tls.TLSSocket; error?: Error } | undefined;

  constructor(
    first: Socket,
    private readonly target: ConnectTarget,
    private readonly dial: () => Promise<Socket>,
    private readonly context: tls.SecureContext | undefined,
  ) {
    super({ keepAlive: true, maxSockets: 1 });
    const started = { socket: this.secure(first) } as { socket: tls.TLSSocket; error?: Error };
    started.socket.on("error", (err) => (started.error ??= err));
    this.first = started;
  }

  private secure(socket: Socket): tls.TLSSocket {
    const host = this.target.host;
    const upstream = tls.connect({
      socket,
      ...(isIP(host) === 0 && { servername: host }),
      host,
      ...(this.context && { secureContext: this.context }),
      ALPNProtocols: ["http/1.1"],
      minVersion: "TLSv1.2",
    });
    upstream.once("close", () => socket.destroy());
    return upstream;
  }

  override createConnection(_options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): undefined {
    const first = this.first;
    this.first = undefined;
    if (first?.error) {
      callback?.(first.error, undefined as unknown as Duplex);
    } else if (first && !first.socket.destroyed) {
      callback?.(null, first.socket);
    } else {
      this.dial().then(
        (socket) => callback?.(null, this.secure(socket)),
        (err: unknown) => callback?.(err as Error, undefined as unknown as Duplex),
      );
    }
    return undefined;
  }
}

/**
 * Makes the connect handler for bound hosts: undefined (the plain tunnel) for a
 * target no binding names.
 */
export function credentialHandler(
  options: CredentialOptions,
  deps: { misuse: MisuseSink; refused: (target: { host: string; port: number }, problem: RequestProblem) => void; reportError: (err: unknown) => void },
): (target: ConnectTarget) => ConnectHandler | undefined {
  const bindings = compileBindings(options.bindings);
  const contextFor = leafContexts(loadCa(options.ca));
  const extra = options.upstreamCa === undefined ? [] : [options.upstreamCa].flat();
  // Made once: a `ca` list on each connection would parse Node's ~140 roots every time.
  const upstreamContext = extra.length > 0 ? tls.createSecureContext({ ca: [...tls.rootCertificates, ...extra], minVersion: "TLSv1.2" }) : undefined;
  const maxBuffered = options.maxBufferedBody ?? 8 * 1024 * 1024;
  const bound = new WeakMap<Duplex, Bound & { agent: UpstreamAgent }>();

  /** Connections whose request was refused on its headers: what the parser then makes of the body is dropped. */
  const answered = new WeakSet<Duplex>();
  const innerLimits = { maxHeaderBytes: 16 * 1024, headersTimeoutMs: 60_000 };
  const inner = http.createServer({ requestTimeout: 0, headersTimeout: innerLimits.headersTimeoutMs, maxHeaderSize: innerLimits.maxHeaderBytes, keepAliveTimeout: 60_000 });
  inner.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const conn = bound.get(req.socket);
    if (conn === undefined) {
      res.destroy();
      return;
    }
    try {
      onRequest(conn, req, res);
    } catch (err) {
      deps.reportError(err);
      res.destroy();
    }
  });
  inner.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === "ECONNRESET" || err.code === "EPIPE") {
      socket.destroy();
      return;
    }
    // Already answered (refused on its headers, then its body choked the parser): that answer closes it.
    if (answered.has(socket)) return;
    // Recorded like every refusal, under the bound host: smuggling is what the parser refuses most here.
    const problem = parseProblem(err.code, innerLimits);
    const conn = bound.get(socket);
    if (conn) deps.refused(conn.target, problem);
    sendRawText(socket, problem.status, problem.detail);
  });

  function refuse(conn: Bound, res: ServerResponse, detail: string, close = false): void {
    const { host, port } = conn.target;
    deps.misuse({ host, port }, detail);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (close) res.shouldKeepAlive = false;
    sendText(res, 403, detail);
  }

  function onRequest(conn: Bound & { agent: UpstreamAgent }, req: IncomingMessage, res: ServerResponse): void {
    const { host, port } = conn.target;
    const where = formatAuthority(host, port);
    const placeholders = conn.bindings.map((b) => b.placeholder);
    const url = req.url ?? "";
    if (!url.startsWith("/")) {
      sendText(res, 400, `inside the TLS connection to ${where}, send origin-form requests (GET /path)`);
      return;
    }
    // Before anything else is read of it: a body framed two ways is never sent on with a value in its headers.
    const framing = framingProblem(req);
    if (framing) {
      answered.add(req.socket);
      deps.refused(conn.target, framing);
      res.shouldKeepAlive = false;
      sendText(res, framing.status, framing.detail);
      return;
    }
    const hostHeader = parseHostHeader(req.headers.host, port);
    if (hostHeader !== host) {
      refuse(conn, res, `a request inside the TLS connection to ${where} names another host in its Host header; a credential goes only to ${where} (credential-misuse)`);
      return;
    }
    const inUrl = Math.max(findIn(url, placeholders), findIn(decodeUrl(url), placeholders));
    if (inUrl !== -1) {
      refuse(conn, res, `${where}: the request's URL holds the placeholder of ${conn.bindings[inUrl]!.env}; the proxy puts the value only into headers, so the request was not sent (credential-misuse)`);
      return;
    }
    const inject = conn.bindings.map((b) => [b.placeholder, b.value] as const);
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, values] of Object.entries(endToEndHeaders(req.headersDistinct))) headers[name] = values.map((v) => replaceAll(v, inject));
    headers.host = req.headers.host; // one value, checked above (the agent reads it as a string)
    // The answer is scanned for values: asked for as plain bytes (one that comes compressed anyway is decoded in respond).
    headers["accept-encoding"] = "identity";
    const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;

    const scan = new StreamMatcher(placeholders.map((p) => Buffer.from(p)));
    let upstream: http.ClientRequest | undefined;
    let held: Buffer[] = [];
    let heldBytes = 0;
    let refused = false;

    const send = (streaming: boolean) => {
      if (!streaming) {
        delete headers["content-length"];
        if (hasBody) headers["content-length"] = String(heldBytes);
      }
      const request = http.request({ method: req.method, path: url, headers, agent: conn.agent, host, port });
      upstream = request;
      request.on("response", (answer) => respond(conn, req, res, answer, request));
      request.on("error", (err) => {
        if (refused) return;
        if (res.headersSent) {
          res.destroy();
          return;
        }
        const code = (err as NodeJS.ErrnoException).code ?? "error";
        sendText(res, 502, `${where} failed before answering (${code})`);
      });
      res.once("close", () => {
        if (!res.writableFinished) request.destroy();
      });
      return request;
    };

    const found = (index: number) => {
      refused = true;
      upstream?.destroy();
      refuse(
        conn,
        res,
        `${where}: the request's body holds the placeholder of ${conn.bindings[index]!.env}; the proxy puts the value only into headers, so the request was ${upstream ? "aborted before the placeholder was sent" : "not sent"} (credential-misuse)`,
        upstream !== undefined,
      );
    };

    const guarded =
      <A extends unknown[]>(fn: (...args: A) => void) =>
      (...args: A) => {
        try {
          fn(...args);
        } catch (err) {
          deps.reportError(err);
          refused = true;
          upstream?.destroy();
          res.destroy();
        }
      };
    req.on("data", guarded((chunk: Buffer) => {
      if (refused) return;
      const { out, found: index } = scan.push(chunk);
      if (index !== -1) {
        found(index);
        return;
      }
      if (upstream === undefined) {
        held.push(out);
        heldBytes += out.length;
        if (heldBytes <= maxBuffered) return;
        const request = send(true);
        for (const part of held) request.write(part);
        held = [];
      } else if (!upstream.write(out)) {
        req.pause();
        upstream.once("drain", () => req.resume());
      }
    }));
    req.on("end", guarded(() => {
      if (refused) return;
      const rest = scan.end();
      if (upstream === undefined) {
        held.push(rest);
        heldBytes += rest.length;
        send(false).end(Buffer.concat(held));
      } else {
        upstream.end(rest);
      }
    }));
  }

  function respond(conn: Bound, req: IncomingMessage, res: ServerResponse, answer: IncomingMessage, request: http.ClientRequest): void {
    const scrub = conn.bindings.map((b) => [b.value, b.placeholder] as const);
    const headers = endToEndHeaders(answer.headersDistinct);
    for (const [name, values] of Object.entries(headers)) headers[name] = values.map((v) => replaceAll(v, scrub));
    const status = answer.statusCode ?? 502;
    const bodyless = req.method === "HEAD" || status === 204 || status === 304;
    const decoding = bodyless ? ({ ok: true, codings: [], decoders: [] } as const) : decodingFor(answer.headersDistinct);
    if (!decoding.ok) {
      request.destroy();
      res.shouldKeepAlive = false;
      sendText(res, 502, `${formatAuthority(conn.target.host, conn.target.port)} answered with the coding "${decoding.coding}", which the proxy cannot decode to check the answer for credential values; it was not passed on`);
      return;
    }
    if (decoding.codings.length > 0) delete headers["content-encoding"];
    // A value and its placeholder may differ in length, and a decoded body is longer: then the length is the encoder's to tell.
    if (!bodyless && (decoding.codings.length > 0 || conn.bindings.some((b) => b.value.length !== b.placeholder.length))) delete headers["content-length"];
    res.writeHead(status, replaceAll(answer.statusMessage ?? "", scrub), headers);
    // A body that does not decode ends the answer where it stands: nothing undecoded is passed on.
    pipeline([answer, ...decoding.decoders, scrubber(conn.bindings), res], (err) => {
      if (err) {
        request.destroy();
        res.destroy();
      }
    });
  }

  return (target) => {
    const mine = bindingsFor(bindings, target.host, target.port);
    if (mine.length === 0) return undefined;
    return async (ctx) => {
      const { client, head, dial } = ctx;
      const first = await establish(ctx);
      if (first === undefined) return;
      // Bytes after the CONNECT are the start of the client's TLS handshake: ours to read.
      if (head.length > 0) client.unshift(head);
      const secure = new tls.TLSSocket(client as Socket, {
        isServer: true,
        secureContext: contextFor(target.host),
        ALPNProtocols: ["http/1.1"],
      });
      const agent = new UpstreamAgent(first, target, dial, upstreamContext);
      const end = () => {
        agent.destroy();
        first.destroy();
        secure.destroy();
        client.destroy();
      };
      secure.on("error", end);
      secure.once("close", end);
      client.once("close", end);
      bound.set(secure, { target, bindings: mine, agent });
      inner.emit("connection", secure);
    };
  };
}

/** The host a Host header names, normalised, when its port (if any) is `port`; undefined otherwise. */
function parseHostHeader(value: string | undefined, port: number): string | undefined {
  if (value === undefined) return undefined;
  const named = parseHostAndPort(value);
  if (named === undefined || (named.port ?? 443) !== port) return undefined;
  return named.host;
}
