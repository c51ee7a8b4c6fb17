/**
 * Which addresses the proxy never dials: the ranges that reach the host, the LAN,
 * cloud metadata and other bottles, whatever the policy says. A policy can lift one
 * of them only for the CIDRs it names in `allowPrivate`, and add its own in
 * `blockCidrs` (a backend adds the engine's gateway and the bottles' networks).
 */
import { BlockList, isIP } from "node:net";

export type IpFamily = "ipv4" | "ipv6";

export interface Cidr {
  /** The address as written (canonical for IPv6), without the prefix. */
  address: string;
  prefix: number;
  family: IpFamily;
}

/** Always blocked unless a policy's `allowPrivate` names them. */
export const ALWAYS_BLOCKED: readonly { cidr: string; label: string }[] = [
  { cidr: "0.0.0.0/8", label: "an unspecified address" },
  { cidr: "127.0.0.0/8", label: "a loopback address" },
  { cidr: "10.0.0.0/8", label: "a private address" },
  { cidr: "172.16.0.0/12", label: "a private address" },
  { cidr: "192.168.0.0/16", label: "a private address" },
  { cidr: "169.254.0.0/16", label: "a link-local address (cloud metadata)" },
  { cidr: "100.64.0.0/10", label: "a shared (carrier-grade NAT) address" },
  { cidr: "224.0.0.0/4", label: "a multicast address" },
  { cidr: "240.0.0.0/4", label: "a reserved address" },
  { cidr: "::/128", label: "an unspecified address" },
  { cidr: "::1/128", label: "a loopback address" },
  { cidr: "fc00::/7", label: "a private address (unique local)" },
  { cidr: "fe80::/10", label: "a link-local address" },
  { cidr: "ff00::/8", label: "a multicast address" },
];

/**
 * Parses `10.0.0.0/8`, `fd00::/8` or a bare address (a /32 or /128).
 * Returns a message saying what is wrong instead of throwing, so callers can name the field.
 */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf("/");
  const address = slash === -1 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return `"${text}" is not a CIDR (an address and a prefix, e.g. 10.0.0.0/8 or fd00::/8)`;
  const family: IpFamily = version === 4 ? "ipv4" : "ipv6";
  const max = version === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    return `"${text}" has a bad prefix length (0 to ${max} for an IPv${version} address)`;
  }
  return { address: version === 6 ? canonicalIpv6(address) : address, prefix: Number(prefixText), family };
}

/** `::FFFF:7F00:1` -> `::ffff:7f00:1`; what WHATWG URL prints. */
export function canonicalIpv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** The 16 bytes of an IPv6 address (no zone), or undefined when it is not one. */
function ipv6Bytes(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address;
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    for (const part of dotted[1].split(".")) tail.push(Number(part));
    text = `${text.slice(0, -dotted[1].length)}0:0`;
  }
  const [head = "", rest] = text.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const words = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = words.flatMap((w) => [w >> 8, w & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/**
 * The IPv4 address an IPv6 one carries to a v4 host: IPv4-mapped (`::ffff:a.b.c.d`)
 * and NAT64 (`64:ff9b::a.b.c.d`, RFC 6052). Undefined for any other address.
 */
export function embeddedIpv4(address: string): string | undefined {
  const b = ipv6Bytes(address);
  if (!b) return undefined;
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const mapped = zeros(0, 10) && b[10] === 0xff && b[11] === 0xff;
  const nat64 = b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12);
  return mapped || nat64 ? b.slice(12).join(".") : undefined;
}

interface Range {
  cidr: string;
  label: string;
  list: BlockList;
}

function range(cidr: Cidr, text: string, label: string): Range {
  const list = new BlockList();
  list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  return { cidr: text, label, list };
}

function familyOf(address: string): IpFamily {
  return isIP(address) === 4 ? "ipv4" : "ipv6";
}

export interface BlockedAddress {
  /** The range that blocks it, e.g. `10.0.0.0/8`. */
  cidr: string;
  /** What the range is, for a message: "a private address". */
  label: string;
}

export interface AddressGuard {
  /** Why the address must not be dialled, or undefined when it may be. */
  check(address: string): BlockedAddress | undefined;
}

/**
 * A guard over the always-blocked ranges, minus `allowPrivate`, plus `blockCidrs`.
 * `blockCidrs` wins over `allowPrivate`. An IPv6 address that carries an IPv4 one
 * (mapped or NAT64) is checked as that IPv4 address too.
 */
export function createAddressGuard(options: { allowPrivate?: readonly Cidr[]; blockCidrs?: readonly Cidr[] } = {}): AddressGuard {
  const always = ALWAYS_BLOCKED.map(({ cidr, label }) => range(parseCidr(cidr) as Cidr, cidr, label));
  const allowed = new BlockList();
  for (const c of options.allowPrivate ?? []) allowed.addSubnet(c.address, c.prefix, c.family);
  const extra = (options.blockCidrs ?? []).map((c) => range(c, `${c.address}/${c.prefix}`, "a blocked address"));

  const checkOne = (address: string): BlockedAddress | undefined => {
    const family = familyOf(address);
    const hit = (r: Range) => r.list.check(address, family);
    const blocked = extra.find(hit) ?? (allowed.check(address, family) ? undefined : always.find(hit));
    return blocked && { cidr: blocked.cidr, label: blocked.label };
  };

  return {
    check(address) {
      const bare = address.replace(/%.*$/, ""); // a zone (fe80::1%eth0) says nothing about the range
      if (isIP(bare) === 0) return { cidr: "", label: "not an IP address" };
      const v4 = embeddedIpv4(bare);
      return checkOne(bare) ?? (v4 === undefined ? undefined : checkOne(v4));
    },
  };
}
