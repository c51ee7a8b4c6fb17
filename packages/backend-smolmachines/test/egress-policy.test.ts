import { BottleError, cidrContains, ErrorCodes, formatCidr, parseCidr, parseDenial, type Cidr, type NetworkPolicy, type ResolvedAgent } from "@claude-bottle/core";
import { busyboxAgent } from "@claude-bottle/test-support";
import { describe, expect, it } from "vitest";
import { subtractRanges } from "../src/egress/subtract-ranges.js";
import { denialOf } from "../src/egress/denials.js";
import { PUBLIC_V6, publicRanges, smolvmCredentialPlan, smolvmEgressPlan } from "../src/egress/policy.js";

const agent = (egress: NetworkPolicy | undefined, patch: Partial<ResolvedAgent> = {}) =>
  busyboxAgent({ slug: "smol-policy", workspace: "/ws", network: true, ...(egress && { egress }), ...patch });
const allow = (entries: string[], rest: Partial<{ deny: string[]; allowPrivate: string[] }> = {}): NetworkPolicy => ({
  mode: "allow",
  allow: entries,
  deny: rest.deny ?? [],
  allowPrivate: rest.allowPrivate ?? [],
});

/** The values of one repeated flag. */
const values = (args: readonly string[], flag: string) => args.flatMap((arg, i) => (args[i - 1] === flag ? [arg] : []));

function refusalOf(run: () => unknown): BottleError {
  try {
    run();
  } catch (error) {
    if (BottleError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

const range = (text: string) => parseCidr(text) as Cidr;
const inPublic = (address: string) => publicRanges().some((cidr) => cidrContains(range(cidr), range(address)));

describe("address ranges", () => {
  it("subtracts IPv4 and IPv6 ranges, as the fewest aligned ranges", () => {
    expect(subtractRanges(range("10.0.0.0/8"), [range("10.0.0.0/9")]).map(formatCidr)).toEqual(["10.128.0.0/9"]);
    expect(subtractRanges(range("10.0.0.0/30"), [range("10.0.0.1")]).map(formatCidr)).toEqual(["10.0.0.0/32", "10.0.0.2/31"]);
    expect(subtractRanges(range("2001:db8::/126"), [range("2001:db8::/127")]).map(formatCidr)).toEqual(["2001:db8::2/127"]);
    expect(subtractRanges(range("10.0.0.0/8"), [range("0.0.0.0/0")])).toEqual([]);
    expect(subtractRanges(range("10.0.0.0/8"), [range("::/0")]).map(formatCidr)).toEqual(["10.0.0.0/8"]);
  });

  it("network: true is every public address and none of the always-blocked ones", () => {
    for (const address of ["8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.32.0.1", "223.255.255.255", "2606:4700::1111"]) {
      expect(inPublic(address), address).toBe(true);
    }
    for (const address of ["10.0.0.1", "172.16.0.1", "192.168.1.1", "127.0.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "fe80::1", "fd00::1", "::ffff:10.0.0.1", "::ffff:8.8.8.8"]) {
      expect(inPublic(address), address).toBe(false);
    }
    expect(publicRanges()).toContain(PUBLIC_V6);
  });
});

describe("a network policy as smolvm's flags", () => {
  it("no network: no plan, so the bottle keeps machine run --from", () => {
    expect(smolvmEgressPlan(agent(undefined, { network: false }))).toBeUndefined();
  });

  it("network: true is an allow-list of the public ranges under the strict floor, on every release", () => {
    for (const policy of [undefined, { mode: "all", deny: [], allowPrivate: [] } as const]) {
      const plan = smolvmEgressPlan(agent(policy))!;
      expect(plan.network).toBe(true);
      expect(values(plan.args, "--allow-cidr")).toEqual(publicRanges());
      expect(plan.args.filter((a) => a.startsWith("--") && a !== "--allow-cidr")).toEqual([]);
      expect(plan.env).toMatchObject({ SMOLVM_EGRESS_FLOOR: "strict" });
      // A user's own shell never lowers it.
      expect(Object.keys(plan.env)).toEqual(expect.arrayContaining(["SMOLVM_ALLOW_HOST_LOOPBACK", "SMOLVM_EGRESS_ALLOW_PRIVATE", "SMOLVM_PUBLISH_ADDR"]));
      expect(plan.needs).toEqual([]);
    }
  });

  it("allowPrivate opens exactly its ranges: added to the list, and the floor that would close them dropped", () => {
    const plan = smolvmEgressPlan(agent({ mode: "all", deny: [], allowPrivate: ["192.168.1.7/24", "127.0.0.1"] }))!;
    expect(values(plan.args, "--allow-cidr")).toEqual([...publicRanges(), "192.168.1.0/24", "127.0.0.1/32"]);
    expect(plan.env).toEqual({ SMOLVM_EGRESS_FLOOR: undefined, SMOLVM_EGRESS_ALLOW_PRIVATE: undefined, SMOLVM_PUBLISH_ADDR: undefined, SMOLVM_ALLOW_HOST_LOOPBACK: undefined });
  });

  it("an allow-list: names stay exact and patterns subdomains-only (--allow-host-pattern), addresses are ranges of one", () => {
    const plan = smolvmEgressPlan(agent(allow(["api.anthropic.com", "*.GitHub.com", "203.0.113.9", "[2001:db8::1]"])))!;
    expect(values(plan.args, "--allow-host-pattern")).toEqual(["api.anthropic.com", "*.github.com"]);
    expect(values(plan.args, "--allow-cidr")).toEqual(["203.0.113.9/32", "2001:db8::1/128"]);
    // --allow-host would also admit every subdomain of an exact name: never used.
    expect(plan.args).not.toContain("--allow-host");
    expect(plan.env).toMatchObject({ SMOLVM_EGRESS_FLOOR: "strict" });
    expect(plan.needs.map((n) => n.feature)).toEqual(["allowHostPattern"]);
    expect(plan.needs[0]!.neededFor).toContain("api.anthropic.com");
  });

  // These compiled before to a name smolvm would look up ("0x7f.1", "example.com."); core's parser, which the agent schema runs, refuses them.
  it.each([
    ["0x7f.1", 'write "127.0.0.1"'],
    ["example.com.", "ends with a dot"],
    ["2001:db8::1", "in brackets"],
  ])("refuses the entry %j as the agent file does, naming it", (entry, why) => {
    const error = refusalOf(() => smolvmEgressPlan(agent(allow(["ok.example", entry]))));
    expect(error.code).toBe(ErrorCodes.AGENT_INVALID);
    expect(error.message).toContain('field "network.allow.1"');
    expect(error.message).toContain(why);
  });

  it("deny: an allowed entry it covers whole is left out; one that covers nothing is moot", () => {
    const plan = smolvmEgressPlan(agent(allow(["a.example.com", "*.x.example.com", "b.example.org"], { deny: ["a.example.com", "*.example.com", "elsewhere.net"] })))!;
    expect(values(plan.args, "--allow-host-pattern")).toEqual(["b.example.org"]);
    // Everything denied: no network at all, which is exactly what the policy admits.
    expect(smolvmEgressPlan(agent(allow(["a.example.com"], { deny: ["a.example.com"] })))).toMatchObject({ network: false, args: [] });
    expect(smolvmEgressPlan(agent(allow([])))).toMatchObject({ network: false });
  });

  const refusals: [string, NetworkPolicy, string, string][] = [
    ["a port on an allowed host", allow(["api.example.com:443"]), "network.allow", "names a port"],
    ["a deny-list beside everything", { mode: "all", deny: ["evil.example"], allowPrivate: [] }, "network.deny", "allow-lists only"],
    ["a deny inside an allowed pattern", allow(["*.example.com"], { deny: ["secret.example.com"] }), "network.deny", "cannot take anything out"],
    ["a deny of one port of an allowed host", allow(["example.com"], { deny: ["example.com:22"] }), "network.deny", "one port"],
    ["a private range beside an allow-list", allow(["example.com"], { allowPrivate: ["10.0.0.0/8"] }), "network.allowPrivate", "DNS rebinding"],
    ["cloud metadata", { mode: "all", deny: [], allowPrivate: ["169.254.169.254"] }, "network.allowPrivate", "never lets a guest reach"],
    ["link-local IPv6 named by a range inside it", { mode: "all", deny: [], allowPrivate: ["fe80::/16"] }, "network.allowPrivate", "never lets a guest reach"],
  ];
  it.each(refusals)("refuses %s, naming the field and why", (_what, policy, field, why) => {
    const error = refusalOf(() => smolvmEgressPlan(agent(policy)));
    expect(error.code).toBe(ErrorCodes.UNSUPPORTED);
    expect(error.message).toContain(`field "${field}"`);
    expect(error.message).toContain(why);
    expect(error.hint).toContain("docker");
  });
});

describe("credentials as smolvm's --credential", () => {
  const bound = (egress: NetworkPolicy | undefined) =>
    agent(egress, { credentials: [{ env: "CB_TOKEN", hosts: ["api.example.com", "up.example.com"] }, { env: "CB_UNSET", hosts: ["api.example.com"] }] });

  it("binds each credential whose variable is set, the value only in what goes to smolvm's environment", () => {
    const plan = smolvmCredentialPlan(bound(allow(["api.example.com", "*.example.com"])), { CB_TOKEN: "s3cret" });
    expect(plan.args).toEqual(["--credential", "CB_TOKEN=CB_TOKEN@api.example.com,up.example.com"]);
    expect(plan.values).toEqual({ CB_TOKEN: "s3cret" });
    expect(JSON.stringify(plan.args)).not.toContain("s3cret");
    expect(plan.needs.map((n) => n.feature)).toEqual(["credential"]);
    expect(smolvmCredentialPlan(bound(undefined), {})).toEqual({ args: [], values: {}, needs: [] });
  });

  it("refuses a credential host the allow-list does not admit: smolvm injects only where the bottle may go", () => {
    const error = refusalOf(() => smolvmCredentialPlan(bound(allow(["api.example.com"])), { CB_TOKEN: "s3cret" }));
    expect(error.message).toContain('field "credentials.0.hosts"');
    expect(error.message).toContain("up.example.com");
    expect(error.message).not.toContain("s3cret");
  });
});

describe("smolvm's egress events as denial records", () => {
  it("has the docker backend's shape: time, host, port, reason, detail", () => {
    expect(denialOf({ timestamp: "2026-01-02T03:04:05Z", operation: "resolve", dest: "evil.example" })).toEqual({
      time: "2026-01-02T03:04:05.000Z",
      host: "evil.example",
      port: null,
      reason: "not-allowed",
      detail: expect.stringContaining("evil.example is not on this bottle's allow-list"),
    });
    expect(denialOf({ timestamp: 1767323045, operation: "connect", dest: "169.254.169.254:80" })).toMatchObject({
      time: "2026-01-02T03:04:05.000Z",
      host: "169.254.169.254",
      port: 80,
      reason: "blocked-address",
    });
    expect(denialOf({ timestamp: "x", operation: "connect", dest: "[2606:4700::1]:443" })).toMatchObject({ host: "2606:4700::1", port: 443, reason: "ip-literal" });
    expect(denialOf({ operation: "sendto", dest: "10.0.0.5:53" })).toMatchObject({ port: 53, reason: "blocked-address" });
  });

  it("writes what the CLI reads back: core's record, whatever smolvm's destination looks like", () => {
    for (const dest of ["evil.example", "203.0.113.9:443", "[2001:db8::1]:443", "2001:db8::1", "[::ffff:169.254.169.254]:80", "a:b:c", "x:99999", ""]) {
      const record = denialOf({ timestamp: 1767323045, operation: "connect", dest });
      expect(parseDenial(JSON.stringify(record)), dest).toEqual(record);
    }
    expect(denialOf({ operation: "connect", dest: "[::ffff:169.254.169.254]:80" })).toMatchObject({ host: "::ffff:169.254.169.254", port: 80, reason: "blocked-address" });
    expect(denialOf({ operation: "connect", dest: "x:99999" })).toMatchObject({ host: "x:99999", port: null });
  });
});
