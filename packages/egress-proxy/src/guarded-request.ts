/**
 * One request inside the TLS connection to a bound host, guarded: checked
 * (origin-form, Host is the CONNECT host, no placeholder in the URL or the
 * body), its placeholders replaced in header values (header-values.ts), sent
 * over TLS (verified) to the vetted address, and its answer streamed back
 * with any value turned back into its placeholder, scanned after its codings
 * are undone (decode.ts). Nothing here puts a value into a message, a record
 * or an error.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { pipeline, Transform, type Duplex } from "node:stream";
import { formatAuthority, parseHostAndPort } from "@claude-bottle/core/egress-policy";
import type { CompiledBinding } from "./bindings.js";
import { decodingFor } from "./decode.js";
import { endToEndHeaders } from "./forward.js";
import { injectValues, scrubValues } from "./header-values.js";
import { framingProblem, type RequestProblem } from "./request-checks.js";
import { sendText } from "./responses.js";
import { StreamMatcher, findIn } from "./scan.js";
import type { ConnectTarget } from "./tunnel.js";
import type { UpstreamAgent } from "./upstream-agent.js";

/** Records a refusal (denial record, reason credential-misuse) and returns its sentence. */
export type MisuseSink = (target: { host: string; port: number }, detail: string) => void;

/** A client connection to a bound host: where it goes, the bindings for it, its upstream. */
export interface GuardedConnection {
  target: ConnectTarget;
  bindings: CompiledBinding[];
  agent: UpstreamAgent;
}

export interface GuardDeps {
  misuse: MisuseSink;
  refused: (target: { host: string; port: number }, problem: RequestProblem) => void;
  reportError: (err: unknown) => void;
  /** Connections whose request was refused on its headers: what the parser then makes of the body is dropped. */
  answered: WeakSet<Duplex>;
  /** A body up to this size is read whole and scanned before anything is sent (CredentialOptions.maxBufferedBody). */
  maxBuffered: number;
}

function refuse(conn: GuardedConnection, res: ServerResponse, detail: string, deps: GuardDeps, close = false): void {
  const { host, port } = conn.target;
  deps.misuse({ host, port }, detail);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (close) res.shouldKeepAlive = false;
  sendText(res, 403, detail);
}

export function guardRequest(conn: GuardedConnection, req: IncomingMessage, res: ServerResponse, deps: GuardDeps): void {
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
    deps.answered.add(req.socket);
    deps.refused(conn.target, framing);
    res.shouldKeepAlive = false;
    sendText(res, framing.status, framing.detail);
    return;
  }
  const hostHeader = parseHostHeader(req.headers.host, port);
  if (hostHeader !== host) {
    refuse(conn, res, `a request inside the TLS connection to ${where} names another host in its Host header; a credential goes only to ${where} (credential-misuse)`, deps);
    return;
  }
  const inUrl = Math.max(findIn(url, placeholders), findIn(decodeUrl(url), placeholders));
  if (inUrl !== -1) {
    refuse(conn, res, `${where}: the request's URL holds the placeholder of ${conn.bindings[inUrl]!.env}; the proxy puts the value only into headers, so the request was not sent (credential-misuse)`, deps);
    return;
  }
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, values] of Object.entries(endToEndHeaders(req.headersDistinct))) headers[name] = values.map((v) => injectValues(v, conn.bindings));
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
      deps,
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
      if (heldBytes <= deps.maxBuffered) return;
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

function respond(conn: GuardedConnection, req: IncomingMessage, res: ServerResponse, answer: IncomingMessage, request: http.ClientRequest): void {
    const headers = endToEndHeaders(answer.headersDistinct);
  for (const [name, values] of Object.entries(headers)) headers[name] = values.map((v) => scrubValues(v, conn.bindings));
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
  res.writeHead(status, scrubValues(answer.statusMessage ?? "", conn.bindings), headers);
  // A body that does not decode ends the answer where it stands: nothing undecoded is passed on.
  pipeline([answer, ...decoding.decoders, scrubber(conn.bindings), res], (err) => {
    if (err) {
      request.destroy();
      res.destroy();
    }
  });
}

function decodeUrl(url: string): string {
  try {
    return decodeURIComponent(url);
  } catch {
    return url.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
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

/** The host a Host header names, normalised, when its port (if any) is `port`; undefined otherwise. */
function parseHostHeader(value: string | undefined, port: number): string | undefined {
  if (value === undefined) return undefined;
  const named = parseHostAndPort(value);
  if (named === undefined || (named.port ?? 443) !== port) return undefined;
  return named.host;
}
