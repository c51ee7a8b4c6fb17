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
 * The bindings are in bindings.ts, the upstream connection in upstream-agent.ts,
 * each request in guarded-request.ts; this file wires them to the CONNECT.
 * Nothing here puts a value into a message, a record or an error.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { bindingsFor, compileBindings, type CredentialBinding } from "./bindings.js";
import { guardRequest, type GuardDeps, type GuardedConnection } from "./guarded-request.js";
import { parseProblem } from "./request-checks.js";
import { sendRawText } from "./responses.js";
import { establish, type ConnectHandler, type ConnectTarget } from "./tunnel.js";
import { UpstreamAgent } from "./upstream-agent.js";
import { leafContexts, loadCa, type BottleCa } from "./x509.js";

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

/**
 * Makes the connect handler for bound hosts: undefined (the plain tunnel) for a
 * target no binding names.
 */
export function credentialHandler(
  options: CredentialOptions,
  deps: Omit<GuardDeps, "answered" | "maxBuffered">,
): (target: ConnectTarget) => ConnectHandler | undefined {
  const bindings = compileBindings(options.bindings);
  const contextFor = leafContexts(loadCa(options.ca));
  const extra = options.upstreamCa === undefined ? [] : [options.upstreamCa].flat();
  // Made once: a `ca` list on each connection would parse Node's ~140 roots every time.
  const upstreamContext = extra.length > 0 ? tls.createSecureContext({ ca: [...tls.rootCertificates, ...extra], minVersion: "TLSv1.2" }) : undefined;
  const maxBuffered = options.maxBufferedBody ?? 8 * 1024 * 1024;
  const bound = new WeakMap<Duplex, GuardedConnection>();

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
      guardRequest(conn, req, res, { ...deps, answered, maxBuffered });
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
