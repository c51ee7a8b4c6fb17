import { describe, expect, it } from "vitest";
import {
  CIDR_SHAPE,
  cidrContains,
  cidrsOverlap,
  embeddedIpv4,
  formatAuthority,
  formatCidr,
  formatDenial,
  HOST_PATTERN_SHAPE,
  hostMatches,
  nameMatches,
  normalizeHost,
  parseAuthority,
  parseCidr,
  parseDenial,
  parseHostAndPort,
  parseHostPattern,
  parseNamePattern,
  type Cidr,
  type DenialRecord,
  type HostPattern,
} from "../src/egress-policy/index.js";

const pattern = (text: string): HostPattern => {
  const parsed = parseHostPattern(text);
  if (typeof parsed === "string") throw new Error(parsed);
  return parsed;
};
const cidr = (text: string): Cidr => {
  const parsed = parseCidr(text);
  if (typeof parsed === "string") throw new Error(parsed);
  return parsed;
};

describe("host patterns", () => {
  it.each([
    ["example.com", { host: "example.com", wildcard: false, port: undefined, ip: false }],
    ["Example.COM", { host: "example.com", wildcard: false, port: undefined, ip: false }],
    ["xn--bcher-kva.example", { host: "xn--bcher-kva.example", wildcard: false, port: undefined, ip: false }],
    ["a_b.example.com", { host: "a_b.example.com", wildcard: false, port: undefined, ip: false }],
    ["*.example.com", { host: "example.com", wildcard: true, port: undefined, ip: false }],
    ["*.com", { host: "com", wildcard: true, port: undefined, ip: false }],
    ["*.Example.org:443", { host: "example.org", wildcard: true, port: 443, ip: false }],
    ["api.example.com:65535", { host: "api.example.com", wildcard: false, port: 65535, ip: false }],
    ["203.0.113.9", { host: "203.0.113.9", wildcard: false, port: undefined, ip: true }],
    ["203.0.113.9:8080", { host: "203.0.113.9", wildcard: false, port: 8080, ip: true }],
    ["[2001:DB8:0::1]", { host: "2001:db8::1", wildcard: false, port: undefined, ip: true }],
    ["[2001:db8::1]:443", { host: "2001:db8::1", wildcard: false, port: 443, ip: true }],
    ["[::ffff:127.0.0.1]", { host: "::ffff:7f00:1", wildcard: false, port: undefined, ip: true }],
    ["[1.2.3.4]:80", { host: "1.2.3.4", wildcard: false, port: 80, ip: true }],
  ])("reads %j", (text, expected) => {
    expect(parseHostPattern(text)).toEqual({ ...expected, text });
  });

  it.each([
    ["", /is not a host name/],
    ["bad host", /is not a host name/],
    [" example.com", /is not a host name/],
    ["example.com ", /is not a host name/],
    ["a/b", /is not a host name/],
    ["user@example.com", /is not a host name/],
    ["http://x/", /is not a host name/],
    ["a..b", /is not a host name/],
    ["-bad-.com", /is not a host name/],
    [`${"a".repeat(64)}.com`, /is not a host name/],
    [`${"a.".repeat(127)}com`, /is not a host name/],
    ["example.123", /is not a host name/],
    ["*", /use mode "all"/],
    ["*.", /is not a host name/],
    ["*.*.example.com", /subdomains only/],
    ["a.*.example.com", /subdomains only/],
    ["*example.com", /subdomains only/],
    ["*.10.0.0.1", /a pattern takes a domain, not an IP address/],
    ["*.[::1]", /is not a host name/],
    ["a.com:0", /bad port/],
    ["a.com:65536", /bad port/],
    ["a.com:", /is not a host name/],
    ["a.com:x", /is not a host name/],
    ["a.com:443:443", /is not a host name/],
    ["[2001:db8::1]443", /is not a host name/],
    ["[2001:db8::1", /is not a host name/],
    ["[fe80::1%eth0]", /is not a host name/],
    ["[example.com]", /brackets hold an IP address/],
  ])("refuses %j", (text, message) => {
    expect(parseHostPattern(text)).toMatch(message);
  });

  // Where the copies before this module disagreed, the strictest reading is kept, with a message that says what to write.
  it("refuses an entry that admits something other than it shows: a trailing dot, Unicode, a bare IPv6 address, a short IPv4 form", () => {
    expect(parseHostPattern("example.com.")).toBe('"example.com." ends with a dot: write "example.com"');
    expect(parseHostPattern("example.com.:443")).toBe('"example.com.:443" ends with a dot: write "example.com:443"');
    expect(parseHostPattern("bücher.example")).toBe('"bücher.example" is not ASCII: write the name as "xn--bcher-kva.example"');
    expect(parseHostPattern("BÜCHER.example")).toContain('write the name as "xn--bcher-kva.example"');
    expect(parseHostPattern("2001:db8::1")).toBe('"2001:db8::1": an IPv6 address is written in brackets, e.g. "[2001:db8::1]" or "[2001:db8::1]:443"');
    expect(parseHostPattern("0x7f.1")).toBe('"0x7f.1" is an IPv4 address in a short form: write "127.0.0.1"');
    expect(parseHostPattern("2130706433")).toBe('"2130706433" is an IPv4 address in a short form: write "127.0.0.1"');
    expect(parseHostPattern("010.0.0.1")).toBe('"010.0.0.1" is an IPv4 address in a short form: write "8.0.0.1"');
    expect(parseHostPattern("_dmarc.example.com")).toBe('"_dmarc.example.com" is not a host name: a name starts and ends with a letter or digit');
    expect(parseHostPattern("*.example.com_")).toMatch(/starts and ends with a letter or digit/);
  });

  it("a credential host is a name without a port: an IP literal is refused (TLS needs a name), and so is a port (the CA's constraint has none)", () => {
    expect(parseNamePattern("api.example.com")).toMatchObject({ host: "api.example.com" });
    expect(parseNamePattern("*.Example.com")).toMatchObject({ wildcard: true, host: "example.com" });
    expect(parseNamePattern("*.example.com:8443")).toMatch(/names a port/);
    expect(parseNamePattern("203.0.113.9")).toMatch(/is an IP address; a credential goes to host names only/);
    expect(parseNamePattern("[2001:db8::1]")).toMatch(/is an IP address/);
  });

  it("matches *.domain on subdomains at any depth, never on the apex or a name that merely ends the same", () => {
    const wild = pattern("*.cdn.example");
    expect(nameMatches(wild, "a.cdn.example")).toBe(true);
    expect(nameMatches(wild, "a.b.c.cdn.example")).toBe(true);
    expect(nameMatches(wild, "cdn.example")).toBe(false);
    expect(nameMatches(wild, "evilcdn.example")).toBe(false);
    expect(nameMatches(pattern("cdn.example"), "a.cdn.example")).toBe(false);
  });

  it("holds an entry with a port to that port", () => {
    expect(hostMatches(pattern("a.example:8443"), "a.example", 8443)).toBe(true);
    expect(hostMatches(pattern("a.example:8443"), "a.example", 443)).toBe(false);
    expect(hostMatches(pattern("a.example"), "a.example", 1)).toBe(true);
    expect(hostMatches(pattern("[2001:db8::1]:443"), normalizeHost("[2001:DB8::1]")!, 443)).toBe(true);
  });
});

describe("hosts in requests", () => {
  // What the proxy reads from a request (the host, the CONNECT target) and from the addresses a name resolves to.
  const readers = { normalizeHost, parseAuthority, embeddedIpv4 } as const;
  it.each([
    ["normalizeHost", "Example.COM.", "example.com"],
    ["normalizeHost", "[::FFFF:127.0.0.1]", "::ffff:7f00:1"],
    ["normalizeHost", "0x7f.1", "127.0.0.1"],
    ["normalizeHost", "2130706433", "127.0.0.1"],
    ["normalizeHost", "bücher.example", "xn--bcher-kva.example"],
    ["normalizeHost", "fe80::1%eth0", undefined],
    ["normalizeHost", "[fe80::1%25eth0]", undefined],
    ["normalizeHost", "a b", undefined],
    ["normalizeHost", "a/b", undefined],
    ["normalizeHost", "user@host", undefined],
    ["normalizeHost", "", undefined],
    ["parseAuthority", "example.com:443", { host: "example.com", port: 443 }],
    ["parseAuthority", "[2001:db8::1]:443", { host: "2001:db8::1", port: 443 }],
    ["parseAuthority", "[::ffff:10.0.0.1]:80", { host: "::ffff:a00:1", port: 80 }],
    ["parseAuthority", "example.com", undefined],
    ["parseAuthority", "2001:db8::1:443", undefined],
    ["parseAuthority", "[2001:db8::1]", undefined],
    ["parseAuthority", "example.com:0", undefined],
    ["parseAuthority", "example.com:443:1", undefined],
    // The IPv4 address an IPv6 one carries to a v4 host (mapped, NAT64), checked against the blocked ranges too.
    ["embeddedIpv4", "::ffff:127.0.0.1", "127.0.0.1"],
    ["embeddedIpv4", "::FFFF:7f00:1", "127.0.0.1"],
    ["embeddedIpv4", "64:ff9b::169.254.169.254", "169.254.169.254"],
    ["embeddedIpv4", "64:ff9b::a00:1", "10.0.0.1"],
    ["embeddedIpv4", "2001:db8::1", undefined],
    ["embeddedIpv4", "::1", undefined],
    ["embeddedIpv4", "64:ff9b:1::a00:1", undefined],
    ["embeddedIpv4", "127.0.0.1", undefined],
    ["embeddedIpv4", "not an address", undefined],
  ] as const)("%s(%j) is %j", (reader, text, expected) => {
    expect(readers[reader](text)).toEqual(expected);
  });

  it("reads a Host header with or without its port, and writes an authority back with brackets", () => {
    expect(parseHostAndPort(" Example.com ")).toEqual({ host: "example.com", port: undefined });
    expect(parseHostAndPort("[::1]:8080")).toEqual({ host: "::1", port: 8080 });
    expect(parseHostAndPort("::1")).toBeUndefined();
    expect(formatAuthority("2001:db8::1", 443)).toBe("[2001:db8::1]:443");
    expect(formatAuthority("example.com", 80)).toBe("example.com:80");
  });
});

describe("CIDRs", () => {
  it.each([
    ["10.0.0.0/8", "10.0.0.0/8"],
    ["10.1.2.3/8", "10.0.0.0/8"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["203.0.113.9/32", "203.0.113.9/32"],
    ["203.0.113.9", "203.0.113.9/32"],
    ["::/0", "::/0"],
    ["FD00::/8", "fd00::/8"],
    ["2001:db8::1", "2001:db8::1/128"],
    ["::ffff:10.0.0.0/104", "::ffff:a00:0/104"],
  ])("reads %j as %j", (text, formatted) => {
    expect(formatCidr(cidr(text))).toBe(formatted);
  });

  it("keeps the address as written (canonical) beside the range it starts", () => {
    expect(cidr("172.18.0.1/16")).toEqual({ family: 4, address: "172.18.0.1", prefix: 16, network: 0xac120000n });
    expect(cidr("2001:DB8::5/32")).toMatchObject({ family: 6, address: "2001:db8::5", prefix: 32 });
  });

  it.each([
    ["10.0.0/8", /is not a CIDR/],
    ["999.0.0.0/8", /is not a CIDR/],
    ["010.0.0.0/8", /is not a CIDR/],
    [" 10.0.0.0/8", /is not a CIDR/],
    ["fe80::1%eth0/64", /is not a CIDR/],
    ["example.com/8", /is not a CIDR/],
    ["", /is not a CIDR/],
    ["10.0.0.0/33", /bad prefix length \(0 to 32 for an IPv4 address\)/],
    ["fd00::/129", /0 to 128/],
    ["10.0.0.0/", /bad prefix length/],
    ["10.0.0.0/-1", /bad prefix length/],
    ["10.0.0.0/8/8", /bad prefix length/],
  ])("refuses %j", (text, message) => {
    expect(parseCidr(text)).toMatch(message);
  });

  it("tells containment and overlap, never across families", () => {
    expect(cidrContains(cidr("0.0.0.0/0"), cidr("10.1.0.0/16"))).toBe(true);
    expect(cidrContains(cidr("10.1.0.0/16"), cidr("10.0.0.0/8"))).toBe(false);
    expect(cidrsOverlap(cidr("10.1.0.0/16"), cidr("10.0.0.0/8"))).toBe(true);
    expect(cidrsOverlap(cidr("10.0.0.0/8"), cidr("11.0.0.0/8"))).toBe(false);
    expect(cidrContains(cidr("::/0"), cidr("10.0.0.0/8"))).toBe(false);
    expect(cidrContains(cidr("203.0.113.9/32"), cidr("203.0.113.9"))).toBe(true);
  });
});

describe("the shapes in agent.schema.json, for editors", () => {
  it.each([
    ["host entry", HOST_PATTERN_SHAPE, parseHostPattern, ["example.com", "Example.COM", "a_b.example.com", "*.com", "*.Example.org:443", "a:65535", "203.0.113.9:8080", "[2001:db8::1]:443", "[::ffff:127.0.0.1]", "[1.2.3.4]", "a-b.c_d.e"]],
    ["CIDR", CIDR_SHAPE, parseCidr, ["10.0.0.0/8", "0.0.0.0/0", "203.0.113.9", "::/0", "FD00::/8", "::ffff:10.0.0.0/104", "2001:db8::1"]],
  ] as const)("the %s shape screens out nothing its parser takes", (_what, shape, parse, accepted) => {
    for (const text of accepted) {
      expect(typeof parse(text), text).toBe("object");
      expect(new RegExp(shape).test(text), text).toBe(true);
    }
  });
});

describe("the denial record", () => {
  const record: DenialRecord = { time: "2026-01-02T03:04:05.000Z", host: "example.com", port: 443, reason: "not-allowed", detail: "example.com:443 is not on this bottle's allow-list" };

  it("is one line of JSON with its fields in order, and reads back as it was", () => {
    const line = formatDenial(record);
    expect(line).toBe(`{"time":"2026-01-02T03:04:05.000Z","host":"example.com","port":443,"reason":"not-allowed","detail":"example.com:443 is not on this bottle's allow-list"}\n`);
    expect(parseDenial(line)).toEqual(record);
    expect(parseDenial(formatDenial({ ...record, host: "", port: null, reason: "bad-request" }))).toEqual({ ...record, host: "", port: null, reason: "bad-request" });
  });

  it("keeps only its own fields, in the order it writes them, whatever else an object carries", () => {
    expect(formatDenial({ ...record, extra: "x" } as DenialRecord)).not.toContain("extra");
    expect(parseDenial(JSON.stringify({ ...record, extra: "x" }))).toEqual(record);
  });

  it.each([
    ["not JSON", "listening on 0.0.0.0:3128"],
    ["a list", "[1,2]"],
    ["null", "null"],
    ["a missing field", JSON.stringify({ ...record, detail: undefined })],
    ["an unknown reason", JSON.stringify({ ...record, reason: "because" })],
    ["a port as text", JSON.stringify({ ...record, port: "443" })],
    ["a port out of range", JSON.stringify({ ...record, port: 70000 })],
    ["a host that is not text", JSON.stringify({ ...record, host: 1 })],
  ])("is not read from %s", (_what, line) => {
    expect(parseDenial(line)).toBeUndefined();
  });
});
