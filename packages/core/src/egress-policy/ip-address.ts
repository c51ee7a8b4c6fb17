/**
 * IP addresses as the egress policy compares them: one canonical text per
 * address (so a listed literal matches however a request writes it) and one
 * number (so ranges can be tested and computed without a second parser).
 */
import { isIP } from "node:net";

export type IpFamily = 4 | 6;

/**
 * `::FFFF:7F00:1` -> `::ffff:7f00:1`, `2001:DB8:0::1` -> `2001:db8::1`: what
 * WHATWG URL prints. Undefined for anything that is not an IPv6 address,
 * including one with a zone (`fe80::1%eth0`): a zone names an interface of the
 * machine that reads it, not an address a policy can speak of.
 */
export function canonicalIpv6(address: string): string | undefined {
  if (isIP(address) !== 6 || address.includes("%")) return undefined;
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** An IPv4 (dotted, as `net.isIP` takes it) or IPv6 address as a number; undefined when it is neither. */
export function ipNumber(address: string): { family: IpFamily; value: bigint } | undefined {
  if (isIP(address) === 4) {
    return { family: 4, value: address.split(".").reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n) };
  }
  const canonical = canonicalIpv6(address);
  if (canonical === undefined) return undefined;
  // Canonical text has no dotted quad (URL rewrites it as two groups), so only "::" is left to expand.
  const [head = "", tail] = canonical.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const words = [...left, ...new Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return { family: 6, value: words.reduce((n, word) => (n << 16n) | BigInt(parseInt(word, 16)), 0n) };
}

/** The address a number stands for, in canonical text. */
export function ipText(family: IpFamily, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join(".");
  const words = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) => ((value >> shift) & 0xffffn).toString(16));
  return canonicalIpv6(words.join(":"))!;
}

const NAT64_PREFIX = 0x0064ff9bn << 96n;
const LOW_32 = 0xffffffffn;

/**
 * The IPv4 address an IPv6 one carries to a v4 host: IPv4-mapped (`::ffff:a.b.c.d`)
 * and NAT64 (`64:ff9b::a.b.c.d`, RFC 6052). Undefined for any other address, and
 * for an address with a zone.
 */
export function embeddedIpv4(address: string): string | undefined {
  const ip = ipNumber(address);
  if (ip?.family !== 6) return undefined;
  const high = ip.value >> 32n;
  const mapped = high === 0xffffn;
  const nat64 = high << 32n === NAT64_PREFIX;
  return mapped || nat64 ? ipText(4, ip.value & LOW_32) : undefined;
}
