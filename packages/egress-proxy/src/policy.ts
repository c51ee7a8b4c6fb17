/**
 * The policy: a plain JSON object, validated here, and the decision it makes on a
 * host name and port before anything is resolved or dialled.
 */
import { isIP } from "node:net";
import { domainToASCII } from "node:url";
import { canonicalIpv6, parseCidr, type Cidr } from "./addresses.js";

interface PolicyCommon {
  /** Entries that are refused even when allowed; same syntax as `allow`. */
  deny?: string[];
  /** CIDRs lifted out of the always-blocked ranges, e.g. `["192.168.1.0/24"]`. */
  allowPrivate?: string[];
  /** More CIDRs to refuse (a backend adds the engine's gateway and the bottles' networks). Wins over `allowPrivate`. */
  blockCidrs?: string[];
}

/** Everything but the always-blocked ranges (and `deny`). */
export interface AllPolicy extends PolicyCommon {
  mode: "all";
}

/** Only the hosts in `allow`. Entries: `example.com`, `*.example.com` (subdomains, not the apex), either with `:port`; IP literals only as written. */
export interface AllowPolicy extends PolicyCommon {
  mode: "allow";
  allow: string[];
}

export type EgressPolicy = AllPolicy | AllowPolicy;

export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PolicyError";
  }
}

/** A host entry, parsed. */
export interface HostPattern {
  /** Lowercase ASCII, no trailing dot; for a wildcard the domain after `*.`. */
  host: string;
  wildcard: boolean;
  /** Undefined: any port. */
  port: number | undefined;
  /** An IP literal (canonical form). */
  ip: boolean;
  /** As written, for messages. */
  text: string;
}

export interface CompiledPolicy {
  source: EgressPolicy;
  mode: EgressPolicy["mode"];
  allow: HostPattern[];
  deny: HostPattern[];
  allowPrivate: Cidr[];
  blockCidrs: Cidr[];
}

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

/** Splits `host:port`, `[v6]:port`, a bare host or a bare IPv6 address. */
function splitHostPort(text: string): { host: string; port: string | undefined } {
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end === -1) return { host: text, port: undefined };
    const rest = text.slice(end + 1);
    return { host: text.slice(0, end + 1), port: rest.startsWith(":") ? rest.slice(1) : rest === "" ? undefined : rest };
  }
  if (isIP(text) === 6) return { host: text, port: undefined };
  const colon = text.lastIndexOf(":");
  return colon === -1 ? { host: text, port: undefined } : { host: text.slice(0, colon), port: text.slice(colon + 1) };
}

/** A TCP port, 1 to 65535, from its decimal text. */
export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** Parses one `allow`/`deny` entry, or returns what is wrong with it. */
export function parseHostPattern(text: string): HostPattern | string {
  if (typeof text !== "string") return "is not a string";
  const { host: rawHost, port: rawPort } = splitHostPort(text.trim());
  let port: number | undefined;
  if (rawPort !== undefined) {
    port = parsePort(rawPort);
    if (port === undefined) return `"${text}" has a bad port (1 to 65535)`;
  }
  const wildcard = rawHost.startsWith("*.");
  if (!wildcard && rawHost.includes("*")) {
    return `"${text}" is not a host: a pattern is "*.example.com" (subdomains only); to allow everything use mode "all"`;
  }
  const host = normalizeHost(wildcard ? rawHost.slice(2) : rawHost);
  if (host === undefined) return `"${text}" is not a host name, "*.domain" pattern or IP address`;
  const ip = isIP(host) !== 0;
  if (wildcard && ip) return `"${text}": a pattern takes a domain, not an IP address`;
  return { host, wildcard, port, ip, text };
}

const KEYS = new Set(["mode", "allow", "deny", "allowPrivate", "blockCidrs"]);

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new PolicyError(`policy.${field} must be a list of strings`);
  }
  return value;
}

function patterns(value: unknown, field: string): HostPattern[] {
  return stringList(value, field).map((entry, i) => {
    const parsed = parseHostPattern(entry);
    if (typeof parsed === "string") throw new PolicyError(`policy.${field}[${i}]: ${parsed}`);
    return parsed;
  });
}

function cidrs(value: unknown, field: string): Cidr[] {
  return stringList(value, field).map((entry, i) => {
    const parsed = parseCidr(entry.trim());
    if (typeof parsed === "string") throw new PolicyError(`policy.${field}[${i}]: ${parsed}`);
    return parsed;
  });
}

/**
 * Validates a policy (from JSON or code) and compiles it for matching.
 * Throws PolicyError naming the field: unknown fields are errors, so a typo never
 * silently widens or narrows what a bottle may reach.
 */
export function compilePolicy(input: unknown): CompiledPolicy {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new PolicyError('policy must be an object such as {"mode":"allow","allow":["example.com"]}');
  }
  const p = input as Record<string, unknown>;
  for (const key of Object.keys(p)) {
    if (!KEYS.has(key)) throw new PolicyError(`policy.${key} is not a policy field (mode, allow, deny, allowPrivate, blockCidrs)`);
  }
  if (p.mode !== "all" && p.mode !== "allow") {
    throw new PolicyError(`policy.mode must be "all" or "allow", not ${JSON.stringify(p.mode)}`);
  }
  if (p.mode === "allow" && p.allow === undefined) throw new PolicyError('policy.allow is required when mode is "allow"');
  if (p.mode === "all" && p.allow !== undefined) {
    throw new PolicyError('policy.allow is only for mode "allow"; mode "all" already allows every host');
  }
  const optional = <T>(value: unknown, field: string, parse: (v: unknown, f: string) => T[]) =>
    value === undefined ? [] : parse(value, field);
  return {
    source: structuredClone(input) as EgressPolicy,
    mode: p.mode,
    allow: optional(p.allow, "allow", patterns),
    deny: optional(p.deny, "deny", patterns),
    allowPrivate: optional(p.allowPrivate, "allowPrivate", cidrs),
    blockCidrs: optional(p.blockCidrs, "blockCidrs", cidrs),
  };
}

/** Validates a policy; returns it unchanged or throws PolicyError. */
export function parsePolicy(input: unknown): EgressPolicy {
  return compilePolicy(input).source;
}

/** Whether a parsed entry covers `host` (normalised) on `port`. */
export function hostMatches(pattern: HostPattern, host: string, port: number): boolean {
  if (pattern.port !== undefined && pattern.port !== port) return false;
  return pattern.wildcard ? host.endsWith(`.${pattern.host}`) : host === pattern.host;
}

export type RefusalReason =
  | "not-allowed"
  | "denied"
  | "ip-literal"
  | "blocked-address"
  | "resolve-failed"
  /** A request to a bound host with a placeholder where it would not be replaced (URL, body), or naming another host. */
  | "credential-misuse"
  /** Not a proxy request, a CONNECT target that is not host:port, or bytes the parser refused (400). */
  | "bad-request"
  /** A Host header that names another host than the request's target (400). */
  | "host-mismatch"
  /** Content-Length with Transfer-Encoding, two Content-Lengths, a Transfer-Encoding other than chunked (400). */
  | "smuggling"
  /** Headers over the size limit (431). */
  | "header-too-large"
  /** Headers slower than the header timeout: a slowloris client (408). */
  | "header-timeout"
  /** One connection more than a client may hold open (429). */
  | "too-many-connections";

export interface Refusal {
  reason: RefusalReason;
  /** One sentence for the 403 body and the denial record. */
  detail: string;
}

/** `host:port`, with brackets around an IPv6 address. */
export function authority(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

export function policySuffix(policy: CompiledPolicy): string {
  return `(policy: ${policy.mode})`;
}

/**
 * The decision on the name alone (`host` already normalised). Undefined: go on to
 * resolve and vet the addresses. `deny` wins over `allow`; under an allow-list an IP
 * literal passes only when the literal itself is listed.
 */
export function decide(policy: CompiledPolicy, host: string, port: number): Refusal | undefined {
  const where = authority(host, port);
  const denied = policy.deny.find((p) => hostMatches(p, host, port));
  if (denied) {
    return { reason: "denied", detail: `${where} is on this bottle's deny-list ("${denied.text}") ${policySuffix(policy)}` };
  }
  if (policy.mode === "all") return undefined;
  if (policy.allow.some((p) => hostMatches(p, host, port))) return undefined;
  if (isIP(host) !== 0) {
    return {
      reason: "ip-literal",
      detail: `${where} is an IP address that is not on this bottle's allow-list ${policySuffix(policy)}`,
    };
  }
  return { reason: "not-allowed", detail: `${where} is not on this bottle's allow-list ${policySuffix(policy)}` };
}

/** The target of `CONNECT host:port`, normalised; undefined when it is not one (the port is required). */
export function parseAuthority(text: string): { host: string; port: number } | undefined {
  const { host: rawHost, port: rawPort } = splitHostPort(text);
  const port = rawPort === undefined ? undefined : parsePort(rawPort);
  const host = normalizeHost(rawHost);
  return port === undefined || host === undefined ? undefined : { host, port };
}
