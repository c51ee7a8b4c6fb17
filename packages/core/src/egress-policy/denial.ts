/**
 * The denial record: one refused connection as `logs --egress` gives it on
 * every backend (`--json` prints it as it is, one JSON object a line). The
 * docker backend's proxy writes these, smolmachines makes them from smolvm's
 * events, and the CLI reads them back for its table.
 */

/** Why a connection was refused: a stable code, for scripts. */
export const DENIAL_REASONS = [
  /** The host is not on the allow-list. */
  "not-allowed",
  /** The host is on the deny-list. */
  "denied",
  /** An IP address that is not on the allow-list. */
  "ip-literal",
  /** An address in a blocked range (private, loopback, link-local, a bottle's network), or a name that resolves to one. */
  "blocked-address",
  /** The name could not be resolved. */
  "resolve-failed",
  /** A request to a bound host with a placeholder where it would not be replaced (URL, body), or naming another host. */
  "credential-misuse",
  /** Not a proxy request, a CONNECT target that is not host:port, or bytes the parser refused (400). */
  "bad-request",
  /** A Host header that names another host than the request's target (400). */
  "host-mismatch",
  /** Content-Length with Transfer-Encoding, two Content-Lengths, a Transfer-Encoding other than chunked (400). */
  "smuggling",
  /** Headers over the size limit (431). */
  "header-too-large",
  /** Headers slower than the header timeout: a slowloris client (408). */
  "header-timeout",
  /** One connection more than a client may hold open (429). */
  "too-many-connections",
] as const;

export type DenialReason = (typeof DENIAL_REASONS)[number];

/**
 * One refusal. It holds the target and the reason only, never a request header
 * or body: credentials pass through the proxy that writes it.
 */
export interface DenialRecord {
  /** ISO 8601, from the refusing side's clock. */
  time: string;
  /** The host as the policy compared it (lowercase, no trailing dot, IPv6 without brackets); "" when the request named none that could be read. */
  host: string;
  /** Null when no port was named or could be read (a name smolvm refused to resolve: no connection was tried). */
  port: number | null;
  reason: DenialReason;
  /** The sentence the client got, or what refused it and why. */
  detail: string;
}

const REASONS: ReadonlySet<string> = new Set(DENIAL_REASONS);

/** The record as one line of JSON, newline included, with its fields in a fixed order. */
export function formatDenial(record: DenialRecord): string {
  const { time, host, port, reason, detail } = record;
  return `${JSON.stringify({ time, host, port, reason, detail })}\n`;
}

/**
 * A line of `logs --egress --json` read back; undefined for a line that is
 * not a record (a record with a field missing, of the wrong type, or an
 * unknown reason is not one). Fields a newer writer adds are dropped.
 */
export function parseDenial(line: string): DenialRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { time, host, port, reason, detail } = value as Record<string, unknown>;
  const portOk = port === null || (typeof port === "number" && Number.isInteger(port) && port >= 0 && port <= 65535);
  if (typeof time !== "string" || typeof host !== "string" || !portOk || typeof reason !== "string" || !REASONS.has(reason) || typeof detail !== "string") {
    return undefined;
  }
  return { time, host, port: port as number | null, reason: reason as DenialReason, detail };
}
