/**
 * What a request must be before the policy looks at it: framed one way only (no
 * request smuggling), naming one host (its Host header agrees with its target), and
 * parseable. Each failure names the rule it broke, for the 400 and the denial record.
 */
import type { IncomingMessage } from "node:http";
import { formatAuthority, parseHostAndPort, type DenialReason } from "@claude-bottle/core/egress-policy";

export interface RequestProblem {
  status: number;
  reason: DenialReason;
  detail: string;
}

/**
 * Body framing two parties could read differently. Node's parser refuses
 * Content-Length with Transfer-Encoding and a repeated Content-Length itself, but it
 * hands over a request whose Transfer-Encoding is not `chunked` before failing on its
 * body; all three are checked here so no such request is ever sent on.
 */
export function framingProblem(req: IncomingMessage): RequestProblem | undefined {
  const lengths = req.headersDistinct["content-length"] ?? [];
  const codings = req.headersDistinct["transfer-encoding"] ?? [];
  const smuggling = (what: string): RequestProblem => ({
    status: 400,
    reason: "smuggling",
    detail: `the request has ${what}; its body could be read two ways, so it was not sent (rule: request-smuggling)`,
  });
  if (lengths.length > 0 && codings.length > 0) return smuggling("both Content-Length and Transfer-Encoding");
  if (lengths.length > 1) return smuggling("more than one Content-Length");
  if (codings.length > 1 || (codings.length === 1 && codings[0]!.trim().toLowerCase() !== "chunked")) {
    return smuggling(`Transfer-Encoding "${printable(codings.join(", "))}" (only "chunked" is accepted)`);
  }
  return undefined;
}

/**
 * The Host header against the host and port the request targets (the CONNECT
 * authority, or the absolute URL's). Absent is fine; present, it must name the same
 * host, and the same port when it names one (or `defaultPort` when it does not):
 * a request must not say one host to the proxy and another to the server. A Host
 * that names the proxy itself (`self`) names no other target: it is what Node's
 * http.request sends when a program writes its own CONNECT.
 */
export function hostProblem(
  req: IncomingMessage,
  target: { host: string; port: number },
  defaultPort: number | undefined,
  self: { host: string; port: number },
): RequestProblem | undefined {
  const values = req.headersDistinct.host ?? [];
  const mismatch = (what: string): RequestProblem => ({
    status: 400,
    reason: "host-mismatch",
    detail: `the request targets ${formatAuthority(target.host, target.port)} but ${what}; it was not sent (rule: host-must-match-target)`,
  });
  if (values.length === 0) return undefined;
  if (values.length > 1) return mismatch("has more than one Host header");
  const named = parseHostAndPort(values[0]!);
  if (named?.host === self.host && named.port === self.port) return undefined;
  const port = named?.port ?? defaultPort;
  if (named === undefined || named.host !== target.host || (port !== undefined && port !== target.port)) {
    return mismatch(`its Host header says "${printable(values[0]!)}"`);
  }
  return undefined;
}

/** A request the HTTP parser refused, by its error code. */
export function parseProblem(code: string | undefined, limits: { maxHeaderBytes: number; headersTimeoutMs: number }): RequestProblem {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, reason: "header-too-large", detail: `the request's headers are over ${limits.maxHeaderBytes} bytes (rule: max-header-bytes)` };
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, reason: "header-timeout", detail: `the request's headers did not arrive within ${limits.headersTimeoutMs} ms (rule: header-timeout)` };
    case "HPE_INVALID_TRANSFER_ENCODING":
    case "HPE_UNEXPECTED_CONTENT_LENGTH":
    case "HPE_INVALID_CONTENT_LENGTH":
      return {
        status: 400,
        reason: "smuggling",
        detail: `the request's Content-Length or Transfer-Encoding is invalid or ambiguous (${code}); it was not sent (rule: request-smuggling)`,
      };
    default:
      return {
        status: 400,
        reason: "bad-request",
        detail: `the request could not be parsed (${code ?? "bad request"}); this is an egress proxy: send absolute-form requests (GET http://host/path) or CONNECT host:port`,
      };
  }
}

/** A header value in a message: visible ASCII only, and not too long to read. */
function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > 80 ? `${clean.slice(0, 80)}…` : clean;
}
