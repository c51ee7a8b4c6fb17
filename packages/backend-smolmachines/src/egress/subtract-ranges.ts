/**
 * What smolvm's `--allow-cidr` needs beyond core's CIDRs: it only ever allows
 * ranges, so "everything but the private ranges" has to be written as the
 * ranges that are left (see `publicRanges`).
 */
import { cidrContains, cidrOf, cidrsOverlap, cidrSize, type Cidr } from "@claude-bottle/core";

/** `base` without the addresses of `excluded`, as the fewest aligned ranges. */
export function subtractRanges(base: Cidr, excluded: readonly Cidr[]): Cidr[] {
  const inside = excluded.filter((e) => cidrsOverlap(base, e));
  if (inside.length === 0) return [base];
  if (inside.some((e) => cidrContains(e, base))) return [];
  // Some excluded range is strictly inside: split in halves and look again.
  const prefix = base.prefix + 1;
  const half = cidrSize(base) / 2n;
  return [
    ...subtractRanges(cidrOf(base.family, base.network, prefix), inside),
    ...subtractRanges(cidrOf(base.family, base.network + half, prefix), inside),
  ];
}
