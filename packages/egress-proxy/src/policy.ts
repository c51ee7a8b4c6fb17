/**
 * The policy: a plain JSON object, validated here, and the decision it makes on a
 * host name and port before anything is resolved or dialled.
 */
import { isIP } from "node:net";
import {
  formatAuthority,
  hostMatches,
  parseCidr,
  parseHostPattern,
  type Cidr,
  type DenialReason,
  type HostPattern,
} from "@claude-bottle/core/egress-policy";

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

export interface CompiledPolicy {
  source: EgressPolicy;
  mode: EgressPolicy["mode"];
  allow: HostPattern[];
  deny: HostPattern[];
  allowPrivate: Cidr[];
  blockCidrs: Cidr[];
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
    const parsed = parseCidr(entry);
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

export interface Refusal {
  reason: DenialReason;
  /** One sentence for the 403 body and the denial record. */
  detail: string;
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
  const where = formatAuthority(host, port);
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
