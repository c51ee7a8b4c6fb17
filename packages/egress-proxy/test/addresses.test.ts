import { describe, expect, it } from "vitest";
import { compilePolicy, createAddressGuard, type EgressPolicy } from "../src/index.js";

const guardFor = (policy: Partial<EgressPolicy> = {}) => createAddressGuard(compilePolicy({ mode: "all", ...policy }));

describe("always-blocked addresses", () => {
  const guard = guardFor();

  it.each([
    ["0.0.0.0", "0.0.0.0/8"],
    ["127.0.0.1", "127.0.0.0/8"],
    ["127.255.0.9", "127.0.0.0/8"],
    ["10.0.0.5", "10.0.0.0/8"],
    ["172.16.0.1", "172.16.0.0/12"],
    ["172.31.255.254", "172.16.0.0/12"],
    ["192.168.1.1", "192.168.0.0/16"],
    ["169.254.169.254", "169.254.0.0/16"],
    ["100.64.0.1", "100.64.0.0/10"],
    ["224.0.0.251", "224.0.0.0/4"],
    ["255.255.255.255", "240.0.0.0/4"],
    ["::", "::/128"],
    ["::1", "::1/128"],
    ["fd12:3456::1", "fc00::/7"],
    ["fe80::1", "fe80::/10"],
    ["fe80::1%eth0", "fe80::/10"],
    ["ff02::1", "ff00::/8"],
    ["::ffff:127.0.0.1", "127.0.0.0/8"],
    ["::ffff:7f00:1", "127.0.0.0/8"],
    ["::ffff:169.254.169.254", "169.254.0.0/16"],
    ["::ffff:a00:5", "10.0.0.0/8"],
    ["64:ff9b::169.254.169.254", "169.254.0.0/16"],
    ["64:ff9b::a00:1", "10.0.0.0/8"],
  ])("blocks %s (%s)", (address, cidr) => {
    expect(guard.check(address)?.cidr).toBe(cidr);
  });

  it.each(["203.0.113.7", "172.32.0.1", "100.128.0.1", "2001:db8::1", "::ffff:203.0.113.7", "64:ff9b::cb00:7107"])("lets %s through", (address) => {
    expect(guard.check(address)).toBeUndefined();
  });

  it("labels the metadata range so a 403 says what it is", () => {
    expect(guard.check("169.254.169.254")?.label).toBe("a link-local address (cloud metadata)");
  });
});

describe("allowPrivate and blockCidrs", () => {
  it("allowPrivate lifts only the CIDRs it names, in every form of the address", () => {
    const guard = guardFor({ allowPrivate: ["192.168.1.0/24", "127.0.0.1"] });
    expect(guard.check("192.168.1.20")).toBeUndefined();
    expect(guard.check("::ffff:192.168.1.20")).toBeUndefined();
    expect(guard.check("127.0.0.1")).toBeUndefined();
    expect(guard.check("192.168.2.20")?.cidr).toBe("192.168.0.0/16");
    expect(guard.check("127.0.0.2")?.cidr).toBe("127.0.0.0/8");
    expect(guard.check("169.254.169.254")?.cidr).toBe("169.254.0.0/16");
  });

  it("blockCidrs adds ranges, and wins over allowPrivate", () => {
    const guard = guardFor({ blockCidrs: ["203.0.113.0/24", "2001:db8::/32"], allowPrivate: ["172.18.0.0/16"] });
    expect(guard.check("203.0.113.7")).toEqual({ cidr: "203.0.113.0/24", label: "a blocked address" });
    expect(guard.check("::ffff:203.0.113.7")?.cidr).toBe("203.0.113.0/24");
    expect(guard.check("2001:db8::5")?.cidr).toBe("2001:db8::/32");
    const both = guardFor({ allowPrivate: ["172.18.0.0/16"], blockCidrs: ["172.18.0.1/32"] });
    expect(both.check("172.18.0.2")).toBeUndefined();
    expect(both.check("172.18.0.1")?.cidr).toBe("172.18.0.1/32");
  });
});
