/**
 * Where a sidecar proxy listens: on its own address in one network (the bottle's),
 * never on every interface. A container with several networks (the bottle's, the
 * engine's default for the way out, a compose stack's) would otherwise serve every
 * container on each of them, credential injection included.
 */
import net from "node:net";
import os from "node:os";

type Interfaces = ReturnType<typeof os.networkInterfaces>;

/** Parses `ADDRESS/PREFIX` (IPv4 or IPv6); undefined when it is not one. */
export function parseSubnet(text: string): { address: string; prefix: number; family: "ipv4" | "ipv6" } | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!match) return undefined;
  const version = net.isIP(match[1]!);
  const prefix = Number(match[2]);
  if (version === 0 || prefix > (version === 4 ? 32 : 128)) return undefined;
  return { address: match[1]!, prefix, family: version === 4 ? "ipv4" : "ipv6" };
}

/** This machine's addresses inside `subnet` (`ADDRESS/PREFIX`), in interface order. */
export function addressesIn(subnet: string, interfaces: Interfaces = os.networkInterfaces()): string[] {
  const parsed = parseSubnet(subnet);
  if (parsed === undefined) return [];
  const list = new net.BlockList();
  list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  return Object.values(interfaces)
    .flatMap((entries) => entries ?? [])
    .filter((entry) => (entry.family === "IPv4") === (parsed.family === "ipv4") && list.check(entry.address, parsed.family))
    .map((entry) => entry.address);
}
