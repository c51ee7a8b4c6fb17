/**
 * Where a sidecar proxy listens: on its own address in one network (the bottle's),
 * never on every interface. A container with several networks (the bottle's, the
 * engine's default for the way out, a compose stack's) would otherwise serve every
 * container on each of them, credential injection included.
 */
import os from "node:os";
import { cidrContains, parseCidr, type Cidr } from "@claude-bottle/core/egress-policy";

type Interfaces = ReturnType<typeof os.networkInterfaces>;

/** This machine's addresses inside `subnet`, in interface order. */
export function addressesIn(subnet: Cidr, interfaces: Interfaces = os.networkInterfaces()): string[] {
  return Object.values(interfaces)
    .flatMap((entries) => entries ?? [])
    .filter((entry) => {
      const own = parseCidr(entry.address);
      return typeof own !== "string" && cidrContains(subnet, own);
    })
    .map((entry) => entry.address);
}
