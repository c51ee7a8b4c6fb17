/**
 * Plain HTTP in absolute form (`GET http://host/path`): the request goes to the
 * vetted address over a connection of its own, without hop-by-hop and `Proxy-*`
 * headers; bodies stream both ways; the client's connection stays open for more.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type net from "node:net";
import { pipeline } from "node:stream";
import { sendText } from "./responses.js";
import { dialFailure } from "./tunnel.js";

/** Headers that describe one connection, not the message (RFC 9110 7.6.1), plus what the proxy answers itself. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "expect",
]);

/** The end-to-end headers of a message: drops hop-by-hop ones, `Proxy-*`, and whatever `Connection` names. */
export function endToEndHeaders(headers: NodeJS.Dict<string[]>): Record<string, string[]> {
  const named = new Set((headers.connection ?? []).flatMap((v) => v.split(",")).map((v) => v.trim().toLowerCase()));
  const out: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(headers)) {
    if (values === undefined || HOP_BY_HOP.has(name) || name.startsWith("proxy-") || named.has(name)) continue;
    out[name] = values;
  }
  return out;
}

export interface ForwardTarget {
  host: string;
  port: number;
  url: URL;
}

/**
 * Sends `req` to the target over `dial()`'s socket and streams the answer back.
 * Answers 502/504 itself when the target cannot be reached.
 */
export async function forward(
  req: IncomingMessage,
  res: ServerResponse,
  target: ForwardTarget,
  dial: (signal: AbortSignal) => Promise<net.Socket>,
): Promise<void> {
  const gone = new AbortController();
  res.once("close", () => gone.abort());
  let socket: net.Socket;
  try {
    socket = await dial(gone.signal);
  } catch (err) {
    if (!gone.signal.aborted) {
      const { status, message } = dialFailure(err, target.host, target.port);
      sendText(res, status, message);
    }
    return;
  }
  if (gone.signal.aborted) {
    socket.destroy();
    return;
  }
  const headers = endToEndHeaders(req.headersDistinct);
  headers.host = [target.url.host];
  const upstream = http.request({
    method: req.method,
    path: `${target.url.pathname}${target.url.search}`,
    headers,
    createConnection: () => socket,
  });
  upstream.on("response", (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEndHeaders(answer.headersDistinct));
    pipeline(answer, res, () => upstream.destroy());
  });
  upstream.on("error", (err) => {
    if (res.headersSent) {
      res.destroy();
    } else {
      const code = (err as NodeJS.ErrnoException).code ?? "error";
      sendText(res, 502, `${target.url.host} failed before answering (${code})`);
    }
  });
  upstream.on("close", () => socket.destroy());
  res.once("close", () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}
