/**
 * Which addresses the proxy never dials: the ranges that reach the host, the LAN,
 * cloud metadata and other bottles, whatever the policy says. A policy can lift one
 * of them only for the CIDRs it names in `allowPrivate`, and add its own in
 * `blockCidrs` (a backend adds the engine's gateway and the bottles' networks).
 */
import { BlockList, isIP } from "node:net";
import { embeddedIpv4, parseCidr, type Cidr, type IpFamily } from "@claude-bottle/core/egress-policy";

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

interface Range {
  cidr: string;
  label: string;
  list: BlockList;
}

/** BlockList's name for a family. */
const blockFamily = (family: IpFamily) => (family === 4 ? "ipv4" : "ipv6");

function range(cidr: Cidr, text: string, label: string): Range {
  const list = new BlockList();
  list.addSubnet(cidr.address, cidr.prefix, blockFamily(cidr.family));
  return { cidr: text, label, list };
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
  for (const c of options.allowPrivate ?? []) allowed.addSubnet(c.address, c.prefix, blockFamily(c.family));
  const extra = (options.blockCidrs ?? []).map((c) => range(c, `${c.address}/${c.prefix}`, "a blocked address"));

  const checkOne = (address: string): BlockedAddress | undefined => {
    const family = blockFamily(isIP(address) === 4 ? 4 : 6);
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
