/**
 * Where a sidecar proxy listens: on its own address in one network (the bottle's),
 * never on every interface. A container with several networks (the bottle's, the
 * engine's default for the way out, a compose stack's) would otherwise serve every
 * container on each of them, credential injection included.
 */
import net from "node:net";
import os from "node:os";
import type { Cidr } from "./addresses.js";

type Interfaces = ReturnType<typeof os.networkInterfaces>;

/** This machine's addresses inside `subnet`, in interface order. */
export function addressesIn(subnet: Cidr, interfaces: Interfaces = os.networkInterfaces()): string[] {
  const list = new net.BlockList();
  list.addSubnet(subnet.address, subnet.prefix, subnet.family);
  return Object.values(interfaces)
    .flatMap((entries) => entries ?? [])
    .filter((entry) => (entry.family === "IPv4") === (subnet.family === "ipv4") && list.check(entry.address, subnet.family))
    .map((entry) => entry.address);
}
