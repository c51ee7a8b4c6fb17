import { isIP } from "node:net";

/**
 * Address ranges as numbers, for what smolvm's `--allow-cidr` can say: it
 * only ever allows ranges, so "everything but the private ranges" has to be
 * written as the ranges that are left (see {@link publicRanges}).
 */
export interface CidrRange {
  family: 4 | 6;
  /** The first address of the range. */
  network: bigint;
  prefix: number;
}

const bits = (family: 4 | 6) => (family === 4 ? 32 : 128);

function ipv4Number(address: string): bigint {
  return address.split(".").reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);
}

function ipv6Number(address: string): bigint {
  // WHATWG URL canonicalises (an embedded dotted quad becomes two groups), leaving only "::" to expand.
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [head = "", tail] = canonical.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const words = [...left, ...new Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return words.reduce((n, word) => (n << 16n) | BigInt(parseInt(word, 16)), 0n);
}

/** `10.0.0.0/8`, `2000::/3`, or a bare address (a /32 or /128); undefined when it is none of these. */
export function parseCidrRange(text: string): CidrRange | undefined {
  const slash = text.indexOf("/");
  const address = slash === -1 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version !== 4 && version !== 6) return undefined;
  const family = version;
  const prefixText = slash === -1 ? String(bits(family)) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits(family)) return undefined;
  const prefix = Number(prefixText);
  const value = family === 4 ? ipv4Number(address) : ipv6Number(address);
  return { family, network: value & mask(family, prefix), prefix };
}

function mask(family: 4 | 6, prefix: number): bigint {
  const width = BigInt(bits(family));
  const all = (1n << width) - 1n;
  return prefix === 0 ? 0n : (all >> BigInt(bits(family) - prefix)) << BigInt(bits(family) - prefix);
}

export function formatCidrRange(range: CidrRange): string {
  if (range.family === 4) {
    const octets = [24n, 16n, 8n, 0n].map((shift) => String((range.network >> shift) & 0xffn));
    return `${octets.join(".")}/${range.prefix}`;
  }
  const words = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) => ((range.network >> shift) & 0xffffn).toString(16));
  return `${new URL(`http://[${words.join(":")}]/`).hostname.slice(1, -1)}/${range.prefix}`;
}

/** Whether `outer` holds every address of `inner`. */
export function containsRange(outer: CidrRange, inner: CidrRange): boolean {
  return outer.family === inner.family && outer.prefix <= inner.prefix && (inner.network & mask(outer.family, outer.prefix)) === outer.network;
}

export function rangesOverlap(a: CidrRange, b: CidrRange): boolean {
  return containsRange(a, b) || containsRange(b, a);
}

/** `base` without the addresses of `excluded`, as the fewest aligned ranges. */
export function subtractRanges(base: CidrRange, excluded: readonly CidrRange[]): CidrRange[] {
  const inside = excluded.filter((e) => rangesOverlap(base, e));
  if (inside.length === 0) return [base];
  if (inside.some((e) => containsRange(e, base))) return [];
  // Some excluded range is strictly inside: split in halves and look again.
  const prefix = base.prefix + 1;
  const half = 1n << BigInt(bits(base.family) - prefix);
  return [
    ...subtractRanges({ family: base.family, network: base.network, prefix }, inside),
    ...subtractRanges({ family: base.family, network: base.network + half, prefix }, inside),
  ];
}
