/**
 * A host entry of a policy (`network.allow`, `network.deny`, a credential's
 * `hosts`, `start --allow-host`, the proxy's `allow`/`deny`): `example.com`,
 * `*.example.com` (its subdomains at any depth, not the apex), an IP literal
 * (`203.0.113.9`, `[2001:db8::1]`), each with an optional `:port`.
 */
import { isIP } from "node:net";
import { domainToASCII } from "node:url";
import { normalizeHost, parsePort, splitHostPort } from "./host.js";

export interface HostPattern {
  /** Lowercase ASCII, no trailing dot; for a wildcard the domain after `*.`; an IP literal in canonical form. */
  host: string;
  wildcard: boolean;
  /** Undefined: any port. */
  port: number | undefined;
  /** An IP literal. */
  ip: boolean;
  /** As written, for messages. */
  text: string;
}

/**
 * The shape of a host entry for editors that read agent.schema.json. It only
 * screens: {@link parseHostPattern} decides, and accepts nothing this shape refuses.
 */
export const HOST_PATTERN_SHAPE = "^(?:(?:\\*\\.)?[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]{1,5})?$";

/**
 * Parses one entry, or returns what is wrong with it. An entry is written
 * exactly: no space around it, no trailing dot, ASCII only (an IDN as its
 * `xn--` form), an IPv6 address in brackets and an IPv4 one as four decimal
 * numbers, so the entry a user reads in the plan is the host it admits.
 */
export function parseHostPattern(text: string): HostPattern | string {
  if (typeof text !== "string") return "is not a string";
  const split = splitHostPort(text);
  if (split === undefined) {
    return isIP(text) === 6
      ? `"${text}": an IPv6 address is written in brackets, e.g. "[${text}]" or "[${text}]:443"`
      : `"${text}" is not a host name, "*.domain" pattern or IP address`;
  }
  let port: number | undefined;
  if (split.port !== undefined) {
    if (!/^\d+$/.test(split.port)) return `"${text}" is not a host name, "*.domain" pattern or IP address`;
    port = parsePort(split.port);
    if (port === undefined) return `"${text}" has a bad port (1 to 65535)`;
  }
  if (text.startsWith("[") && isIP(split.host) === 0) return `"${text}": brackets hold an IP address, not a name`;
  const wildcard = split.host.startsWith("*.");
  const name = wildcard ? split.host.slice(2) : split.host;
  if (name.includes("*")) {
    return `"${text}" is not a host: a pattern is "*.example.com" (subdomains only); to allow everything use mode "all"`;
  }
  if (name.endsWith(".")) return `"${text}" ends with a dot: write "${text.replace(/\.(?=$|:)/, "")}"`;
  if (/[^\x00-\x7f]/.test(name)) {
    const ascii = domainToASCII(name);
    return ascii === "" ? `"${text}" is not a host name` : `"${text}" is not ASCII: write the name as "${ascii}"`;
  }
  const host = name.trim() === name ? normalizeHost(name) : undefined;
  if (host === undefined) return `"${text}" is not a host name, "*.domain" pattern or IP address`;
  const ip = isIP(host) !== 0;
  if (!ip && !/^[a-z0-9](?:.*[a-z0-9])?$/i.test(name)) return `"${text}" is not a host name: a name starts and ends with a letter or digit`;
  if (wildcard && ip) return `"${text}": a pattern takes a domain, not an IP address`;
  // WHATWG URL reads `0x7f.1` and `2130706433` as 127.0.0.1: the entry would admit an address it does not show.
  if (isIP(host) === 4 && host !== name) return `"${text}" is an IPv4 address in a short form: write "${host}"`;
  return { host, wildcard, port, ip, text };
}

/**
 * A host entry that must name a host, with no port: where a credential goes. TLS needs
 * a name, not an IP literal; the bottle's CA is constrained to names, which have no port.
 */
export function parseNamePattern(text: string): HostPattern | string {
  const parsed = parseHostPattern(text);
  if (typeof parsed === "string") return parsed;
  if (parsed.ip) return `"${parsed.text}" is an IP address; a credential goes to host names only (TLS needs one)`;
  if (parsed.port !== undefined) return `"${parsed.text}" names a port; a credential goes to a host name or *.domain, on the ports the policy allows`;
  return parsed;
}

/** Whether an entry admits the name `host` (normalised), whatever its port. */
export function nameMatches(pattern: HostPattern, host: string): boolean {
  return pattern.wildcard ? host.endsWith(`.${pattern.host}`) : host === pattern.host;
}

/** Whether an entry covers `host` (normalised) on `port`. */
export function hostMatches(pattern: HostPattern, host: string, port: number): boolean {
  return (pattern.port === undefined || pattern.port === port) && nameMatches(pattern, host);
}
