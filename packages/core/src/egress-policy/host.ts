/**
 * A host as the egress policy compares it, and the `host:port` text that
 * names one: in a policy entry, a CONNECT target, a Host header, a smolvm
 * event. One reading for all of them, so a name cannot mean one host to the
 * check and another to the dial.
 */
import { isIP } from "node:net";
import { domainToASCII } from "node:url";
import { canonicalIpv6 } from "./ip-address.js";

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/**
 * A host as the proxy compares it: lowercase, no trailing dot, IDN in ASCII, IPv6
 * without brackets and in canonical form, IPv4 in dotted form (`0x7f.1` is 127.0.0.1,
 * as WHATWG URL and the resolver read it). Undefined when it is not a valid host.
 */
export function normalizeHost(raw: string): string | undefined {
  let host = raw.trim();
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (isIP(host) === 6) return canonicalIpv6(host);
  if (host.endsWith(".")) host = host.slice(0, -1);
  if (!/^[^\s/\\?#@:%[\]]+$/.test(host)) return undefined;
  let parsed: string;
  try {
    parsed = new URL(`http://${host}/`).hostname;
  } catch {
    return undefined;
  }
  if (isIP(parsed) === 4) return parsed;
  const ascii = domainToASCII(parsed).replace(/\.$/, "");
  if (ascii === "" || ascii.length > 253 || !ascii.split(".").every((l) => LABEL.test(l))) return undefined;
  return ascii;
}

/** A TCP port, 1 to 65535, from its decimal text. */
export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/**
 * Splits `host`, `host:port`, `[v6]` or `[v6]:port` into the host as written
 * (brackets kept off) and the port text. Undefined for anything else: a bare
 * IPv6 address (`2001:db8::1:443` could be either), brackets elsewhere, or a
 * second colon.
 */
export function splitHostPort(text: string): { host: string; port: string | undefined } | undefined {
  const bracketed = /^\[([^[\]]*)\](?::(.*))?$/s.exec(text);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] };
  if (/[[\]]/.test(text)) return undefined;
  const parts = text.split(":");
  if (parts.length > 2) return undefined;
  return { host: parts[0]!, port: parts[1] };
}

/**
 * `host`, `host:port` or `[v6]:port`, normalised ({@link normalizeHost}); the port
 * is undefined when none is written. Undefined when either part is not valid.
 */
export function parseHostAndPort(text: string): { host: string; port: number | undefined } | undefined {
  const split = splitHostPort(text.trim());
  if (split === undefined) return undefined;
  const host = normalizeHost(split.host);
  const port = split.port === undefined ? undefined : parsePort(split.port);
  if (host === undefined || (split.port !== undefined && port === undefined)) return undefined;
  return { host, port };
}

/** The target of `CONNECT host:port`, normalised; undefined when it is not one (the port is required). */
export function parseAuthority(text: string): { host: string; port: number } | undefined {
  const parsed = parseHostAndPort(text);
  return parsed?.port === undefined ? undefined : { host: parsed.host, port: parsed.port };
}

/** `host:port`, with brackets around an IPv6 address. */
export function formatAuthority(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}
