import { describe, expect, it } from "vitest";
import { normalizeHost } from "@claude-bottle/core/egress-policy";
import { compilePolicy, decide, parsePolicy, PolicyError, type EgressPolicy } from "../src/index.js";

const refusal = (policy: EgressPolicy, host: string, port: number) => decide(compilePolicy(policy), host, port)?.reason;

describe("policy validation", () => {
  it("accepts both modes and keeps the policy as given", () => {
    const policy: EgressPolicy = { mode: "allow", allow: ["example.com", "*.example.org:443"], deny: ["x.example.org"], allowPrivate: ["192.168.1.0/24"], blockCidrs: ["172.18.0.0/16", "fd00::/8"] };
    expect(parsePolicy(policy)).toEqual(policy);
    expect(parsePolicy({ mode: "all" })).toEqual({ mode: "all" });
  });

  it.each([
    [null, /must be an object/],
    [{}, /policy.mode must be "all" or "allow", not undefined/],
    [{ mode: "none" }, /policy.mode must be "all" or "allow", not "none"/],
    [{ mode: "allow" }, /policy.allow is required/],
    [{ mode: "all", allow: ["a.com"] }, /only for mode "allow"/],
    [{ mode: "all", alow: [] }, /policy.alow is not a policy field/],
    [{ mode: "allow", allow: "a.com" }, /policy.allow must be a list of strings/],
    [{ mode: "allow", allow: ["ok.com", "bad host"] }, /policy.allow\[1\]: "bad host" is not a host name/],
    [{ mode: "allow", allow: ["*"] }, /policy.allow\[0\]: .*use mode "all"/],
    [{ mode: "allow", allow: ["a.*.com"] }, /policy.allow\[0\]: .*subdomains only/],
    [{ mode: "allow", allow: ["a.com:0"] }, /policy.allow\[0\]: "a.com:0" has a bad port/],
    [{ mode: "allow", allow: ["a.com:70000"] }, /bad port/],
    [{ mode: "allow", allow: ["a.com/path"] }, /is not a host name/],
    [{ mode: "allow", allow: ["*.10.0.0.1"] }, /a pattern takes a domain/],
    [{ mode: "all", deny: ["-bad-.com"] }, /policy.deny\[0\]/],
    [{ mode: "all", allowPrivate: ["10.0.0/8"] }, /policy.allowPrivate\[0\]: "10.0.0\/8" is not a CIDR/],
    [{ mode: "all", blockCidrs: ["10.0.0.0/33"] }, /policy.blockCidrs\[0\]: .*bad prefix length \(0 to 32/],
    [{ mode: "all", blockCidrs: ["fd00::/129"] }, /0 to 128/],
    // Core's parsers decide (@claude-bottle/core/egress-policy); where the agent schema was stricter than this proxy, the stricter holds.
    [{ mode: "allow", allow: ["example.com."] }, /policy.allow\[0\]: "example.com." ends with a dot/],
    [{ mode: "allow", allow: ["bücher.example"] }, /write the name as "xn--bcher-kva.example"/],
    [{ mode: "allow", allow: ["2001:db8::1"] }, /an IPv6 address is written in brackets/],
    [{ mode: "allow", allow: ["0x7f.1"] }, /IPv4 address in a short form: write "127.0.0.1"/],
    [{ mode: "allow", allow: [" example.com"] }, /is not a host name/],
    [{ mode: "all", allowPrivate: ["fe80::1%eth0/64"] }, /policy.allowPrivate\[0\]: .* is not a CIDR/],
    [{ mode: "all", allowPrivate: [" 10.0.0.0/8"] }, /is not a CIDR/],
  ])("refuses %j with a message naming the field", (input, message) => {
    expect(() => parsePolicy(input)).toThrow(PolicyError);
    expect(() => parsePolicy(input)).toThrow(message);
  });
});

describe("decide (on the name, before any resolution)", () => {
  const allow: EgressPolicy = { mode: "allow", allow: ["api.example.com", "*.cdn.example", "ported.example:8443", "203.0.113.9", "[2001:db8::1]:443"] };

  it("allows exact names case-insensitively, ignoring a trailing dot", () => {
    expect(refusal(allow, normalizeHost("API.Example.com.")!, 443)).toBeUndefined();
    expect(refusal(allow, "other.example.com", 443)).toBe("not-allowed");
  });

  it("matches *.domain on subdomains at any depth but not on the apex", () => {
    expect(refusal(allow, "a.cdn.example", 443)).toBeUndefined();
    expect(refusal(allow, "a.b.cdn.example", 443)).toBeUndefined();
    expect(refusal(allow, "cdn.example", 443)).toBe("not-allowed");
    expect(refusal(allow, "evilcdn.example", 443)).toBe("not-allowed");
  });

  it("restricts an entry with a port to that port", () => {
    expect(refusal(allow, "ported.example", 8443)).toBeUndefined();
    expect(refusal(allow, "ported.example", 443)).toBe("not-allowed");
  });

  it("lets an IP literal through an allow-list only when the literal itself is listed", () => {
    expect(refusal(allow, "203.0.113.9", 80)).toBeUndefined();
    expect(refusal(allow, "203.0.113.10", 80)).toBe("ip-literal");
    expect(refusal(allow, "2001:db8::1", 443)).toBeUndefined();
    expect(refusal(allow, "2001:db8::1", 80)).toBe("ip-literal");
  });

  it("lets deny win over allow, in both modes", () => {
    const policy: EgressPolicy = { mode: "allow", allow: ["*.example.com"], deny: ["secret.example.com", "*.internal.example.com:443"] };
    expect(refusal(policy, "www.example.com", 443)).toBeUndefined();
    expect(refusal(policy, "secret.example.com", 443)).toBe("denied");
    expect(refusal(policy, "a.internal.example.com", 443)).toBe("denied");
    expect(refusal(policy, "a.internal.example.com", 80)).toBeUndefined();
    expect(refusal({ mode: "all", deny: ["tracker.example"] }, "tracker.example", 443)).toBe("denied");
    expect(refusal({ mode: "all", deny: ["tracker.example"] }, "anything.example", 443)).toBeUndefined();
  });

  it("says which policy refused and why", () => {
    expect(decide(compilePolicy(allow), "example.com", 443)?.detail).toBe("example.com:443 is not on this bottle's allow-list (policy: allow)");
    expect(decide(compilePolicy({ mode: "all", deny: ["*.example.com"] }), "a.example.com", 80)?.detail).toBe(
      'a.example.com:80 is on this bottle\'s deny-list ("*.example.com") (policy: all)',
    );
  });
});
