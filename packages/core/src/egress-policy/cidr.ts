/**
 * Address ranges (`10.0.0.0/8`, `fd00::/8`), parsed once for everyone who
 * reads one: the agent file's `network.allowPrivate`, the egress proxy's
 * `allowPrivate`/`blockCidrs` and `--listen-in`, and smolvm's `--allow-cidr`.
 */
import { isIP } from "node:net";
import { ipNumber, ipText, type IpFamily } from "./ip-address.js";

export interface Cidr {
  family: IpFamily;
  /** The address as written, in canonical form (IPv6 compressed, lowercase), without the prefix. */
  address: string;
  prefix: number;
  /** The range's first address as a number: `address` with the bits past `prefix` cleared. */
  network: bigint;
}

/**
 * The shape of a CIDR for editors that read agent.schema.json. It only
 * screens: {@link parseCidr} decides, and accepts nothing this shape refuses.
 */
export const CIDR_SHAPE = "^(?:[0-9]{1,3}(?:\\.[0-9]{1,3}){3}|[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*)(?:/[0-9]{1,3})?$";

const bits = (family: IpFamily) => (family === 4 ? 32 : 128);

function mask(family: IpFamily, prefix: number): bigint {
  const width = BigInt(bits(family));
  return (((1n << width) - 1n) >> (width - BigInt(prefix))) << (width - BigInt(prefix));
}

/**
 * Parses `10.0.0.0/8`, `fd00::/8` or a bare address (a /32 or /128). Returns
 * what is wrong instead of throwing, so each caller names its own field.
 * Nothing is trimmed, and an IPv6 zone (`fe80::1%eth0/64`) is refused.
 */
export function parseCidr(text: string): Cidr | string {
  if (typeof text !== "string") return "is not a string";
  const slash = text.indexOf("/");
  const written = slash === -1 ? text : text.slice(0, slash);
  const ip = ipNumber(written);
  if (ip === undefined) return `"${text}" is not a CIDR (an address and a prefix, e.g. 10.0.0.0/8 or fd00::/8)`;
  const max = bits(ip.family);
  const prefixText = slash === -1 ? String(max) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    return `"${text}" has a bad prefix length (0 to ${max} for an IPv${ip.family} address)`;
  }
  const prefix = Number(prefixText);
  const address = isIP(written) === 4 ? written : ipText(6, ip.value);
  return { family: ip.family, address, prefix, network: ip.value & mask(ip.family, prefix) };
}

/** The range in canonical form, from its first address: `10.1.2.3/8` is `10.0.0.0/8`. */
export function formatCidr(cidr: Cidr): string {
  return `${ipText(cidr.family, cidr.network)}/${cidr.prefix}`;
}

/** A range from its family, first address and prefix (the address is masked to the prefix). */
export function cidrOf(family: IpFamily, network: bigint, prefix: number): Cidr {
  const first = network & mask(family, prefix);
  return { family, address: ipText(family, first), prefix, network: first };
}

/** Whether `outer` holds every address of `inner`. */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && outer.prefix <= inner.prefix && (inner.network & mask(outer.family, outer.prefix)) === outer.network;
}

/** Whether some address is in both (for aligned ranges: one holds the other). */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

/** The number of addresses a range's prefix leaves free: `/24` of IPv4 is 2^8. */
export function cidrSize(cidr: Cidr): bigint {
  return 1n << BigInt(bits(cidr.family) - cidr.prefix);
}
