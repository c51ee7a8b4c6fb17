import { ALWAYS_BLOCKED } from "@claude-bottle/egress-proxy";
import {
  BottleError,
  cidrsOverlap,
  ErrorCodes,
  formatCidr,
  parseCidr,
  parseHostPattern,
  parseNamePattern,
  type Cidr,
  type HostPattern,
  type NetworkPolicy,
  type ResolvedAgent,
} from "@claude-bottle/core";
import type { SmolvmFeature } from "../smolvm/features.js";
import { subtractRanges } from "./subtract-ranges.js";

/**
 * How a bottle's network policy (SECURITY.md point 3) becomes smolvm's own
 * flags (SMOLVM.md, "Egress policy"). smolvm enforces allow-lists only, by
 * address: a range (`--allow-cidr`), or the addresses an allowed name
 * resolves to (`--allow-host-pattern`, learned from its DNS answers). What it
 * cannot say (a port, a deny-list beside "everything") is refused here with
 * the field that asks for it, never passed on as something wider.
 */
export interface SmolvmEgressPlan {
  /** False when the policy admits nothing at all: the bottle then gets no network, which is exactly that. */
  readonly network: boolean;
  /** `--allow-cidr …`, `--allow-host-pattern …` for `machine create`. */
  readonly args: readonly string[];
  /**
   * smolvm's environment where it boots the machine: the egress floor
   * (`SMOLVM_EGRESS_FLOOR=strict` whenever no private range is opened), and
   * every variable that would lower it removed.
   */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The flags beyond 1.9.0 the args need, each with what needs it. */
  readonly needs: readonly { feature: SmolvmFeature; neededFor: string }[];
}

/** The variables that set smolvm's egress floor (SMOLVM.md, "The loopback floor"); none may come from the user's shell. */
const FLOOR_VARIABLES = ["SMOLVM_EGRESS_FLOOR", "SMOLVM_EGRESS_ALLOW_PRIVATE", "SMOLVM_PUBLISH_ADDR", "SMOLVM_ALLOW_HOST_LOOPBACK"] as const;
const noFloorVariables = (): Record<string, string | undefined> => Object.fromEntries(FLOOR_VARIABLES.map((name) => [name, undefined]));

/** The ranges no bottle reaches unless `allowPrivate` names them: the egress proxy's own list, so both backends agree. */
const BLOCKED_V4: readonly Cidr[] = ALWAYS_BLOCKED.map((b) => parseCidr(b.cidr) as Cidr).filter((r) => r.family === 4);
/** Global unicast: every public IPv6 address, and none of loopback, link-local, unique-local, multicast or the IPv4-mapped forms. */
export const PUBLIC_V6 = "2000::/3";
/** Ranges smolvm never opens whatever the list says: cloud metadata (link-local). */
const NEVER_OPENED: readonly Cidr[] = ["169.254.0.0/16", "fe80::/10"].map((c) => parseCidr(c) as Cidr);

/** Every public address: what `network: true` means, written as the only thing smolvm can say, an allow-list of ranges. */
export function publicRanges(): string[] {
  return [...subtractRanges(parseCidr("0.0.0.0/0") as Cidr, BLOCKED_V4).map(formatCidr), PUBLIC_V6];
}

/** Whether every name `inner` admits, `outer` admits too (ports aside). */
function covers(outer: HostPattern, inner: HostPattern): boolean {
  if (!outer.wildcard) return !inner.wildcard && inner.host === outer.host;
  return inner.host.endsWith(`.${outer.host}`) || (inner.wildcard && inner.host === outer.host);
}

/** Whether some name is admitted by both. */
function intersects(a: HostPattern, b: HostPattern): boolean {
  return covers(a, b) || covers(b, a) || (a.wildcard && !b.wildcard && b.host.endsWith(`.${a.host}`)) || (b.wildcard && !a.wildcard && a.host.endsWith(`.${b.host}`));
}

function refusal(agent: ResolvedAgent, field: string, why: string, hint: string): BottleError {
  return new BottleError(ErrorCodes.UNSUPPORTED, `${agent.file ?? `Agent "${agent.slug}"`}: field "${field}": ${why}`, { hint });
}

const DOCKER_HINT = "The docker backend's egress proxy enforces it (--backend docker).";

/** A list of the policy's host entries, parsed by core's parser (the agent file's schema ran it already). */
function patternsOf(agent: ResolvedAgent, field: string, entries: readonly string[], parse = parseHostPattern): HostPattern[] {
  return entries.map((text, index) => {
    const parsed = parse(text);
    if (typeof parsed === "string") throw new BottleError(ErrorCodes.AGENT_INVALID, `${agent.file ?? `Agent "${agent.slug}"`}: field "${field}.${index}": ${parsed}`);
    return parsed;
  });
}

/**
 * The smolvm flags for an agent's network, or undefined for a bottle without
 * network (which keeps the fast `machine run --from`). Throws UNSUPPORTED,
 * naming the field, for a policy smolvm cannot enforce as written.
 */
export function smolvmEgressPlan(agent: ResolvedAgent): SmolvmEgressPlan | undefined {
  if (!agent.network) return undefined;
  const policy: NetworkPolicy = agent.egress ?? { mode: "all", deny: [], allowPrivate: [] };
  const opened = openedPrivateRanges(agent, policy.allowPrivate);
  // The strict floor refuses private, loopback, link-local, unique-local and CGNAT addresses, also when an
  // allowed name resolves to one (DNS rebinding), and no list entry lifts it; only allowPrivate does without it.
  const env = opened.length === 0 ? { ...noFloorVariables(), SMOLVM_EGRESS_FLOOR: "strict" } : noFloorVariables();
  const cidrArgs = (cidrs: readonly string[]) => cidrs.flatMap((cidr) => ["--allow-cidr", cidr]);

  if (policy.mode === "all") {
    if (policy.deny.length > 0) {
      throw refusal(
        agent,
        "network.deny",
        `smolvm cannot refuse ${policy.deny.join(", ")} while allowing everything else: it enforces allow-lists only.`,
        `List what the agent may reach in network.allow instead, or drop network.deny. ${DOCKER_HINT}`,
      );
    }
    // Without a list smolvm's floor is only cloud metadata (and, newer, the host's loopback): the LAN would be open.
    return { network: true, args: cidrArgs([...publicRanges(), ...opened]), env, needs: [] };
  }

  if (opened.length > 0) {
    throw refusal(
      agent,
      "network.allowPrivate",
      `with network.allow, smolvm guards against an allowed name resolving to a private address (DNS rebinding) only with a floor that no range can open; opening ${opened.join(", ")} would drop that guard for every allowed name.`,
      `Drop network.allowPrivate, or use it with network: { allowPrivate: [...] } and no allow-list. ${DOCKER_HINT}`,
    );
  }
  const allow = patternsOf(agent, "network.allow", policy.allow);
  const deny = patternsOf(agent, "network.deny", policy.deny);
  const withPort = allow.find((a) => a.port !== undefined);
  if (withPort) {
    throw refusal(
      agent,
      "network.allow",
      `"${withPort.text}" names a port, and smolvm allows a host on all of its ports or none.`,
      `Write "${withPort.text.replace(/:\d+$/, "")}" to allow every port of it. ${DOCKER_HINT}`,
    );
  }
  const kept: HostPattern[] = [];
  for (const entry of allow) {
    const whole = deny.find((d) => d.port === undefined && covers(d, entry));
    if (whole) continue; // deny wins over all of it: leaving it out says exactly that
    const part = deny.find((d) => intersects(d, entry));
    if (part) {
      throw refusal(
        agent,
        "network.deny",
        `"${part.text}" refuses ${part.port !== undefined ? "one port" : "part"} of what "${entry.text}" allows, and smolvm cannot take anything out of an allowed ${entry.wildcard ? "pattern" : "host"}.`,
        `List the allowed names one by one instead of "${entry.text}", leaving out what "${part.text}" refuses. ${DOCKER_HINT}`,
      );
    }
    kept.push(entry);
  }
  if (kept.length === 0) return { network: false, args: [], env: {}, needs: [] };
  const addresses = kept.filter((e) => e.ip).map((e) => formatCidr(parseCidr(e.host) as Cidr));
  const names = kept.filter((e) => !e.ip).map((e) => (e.wildcard ? `*.${e.host}` : e.host));
  return {
    network: true,
    // An exact name stays exact: `--allow-host` would also admit every subdomain of it, so it is never used.
    args: [...cidrArgs(addresses), ...names.flatMap((name) => ["--allow-host-pattern", name])],
    env,
    needs: names.length > 0 ? [{ feature: "allowHostPattern", neededFor: `An allow-list by host name (network.allow: ${names.join(", ")})` }] : [],
  };
}

/** `allowPrivate` as smolvm ranges; a range smolvm never opens (cloud metadata) is refused rather than left closed unsaid. */
function openedPrivateRanges(agent: ResolvedAgent, allowPrivate: readonly string[]): string[] {
  return allowPrivate.map((text) => {
    const range = parseCidr(text);
    if (typeof range === "string") throw refusal(agent, "network.allowPrivate", `${range}.`, "Write a range such as 192.168.1.0/24.");
    if (NEVER_OPENED.some((never) => cidrsOverlap(never, range))) {
      throw refusal(
        agent,
        "network.allowPrivate",
        `"${text}" reaches link-local addresses (cloud metadata), which smolvm never lets a guest reach.`,
        `Remove "${text}" from network.allowPrivate. ${DOCKER_HINT}`,
      );
    }
    return formatCidr(range);
  });
}

/** The credential bindings as `--credential` flags, and the values for smolvm's environment (never its argv). */
export interface SmolvmCredentialPlan {
  readonly args: readonly string[];
  readonly values: Readonly<Record<string, string>>;
  readonly needs: readonly { feature: SmolvmFeature; neededFor: string }[];
}

/**
 * `--credential ENV=ENV@HOST[,HOST…]` per binding (issue 12; SMOLVM.md,
 * "Credentials"): the guest gets a placeholder in ENV, smolvm writes the value
 * only into HTTPS request headers to the hosts. A binding whose variable this
 * host does not set is left out, as an unset passthrough is. With an
 * allow-list, smolvm requires every credential host on it: a host that is not
 * is refused here, by field.
 */
export function smolvmCredentialPlan(agent: ResolvedAgent, hostEnv: Readonly<Record<string, string | undefined>>): SmolvmCredentialPlan {
  const args: string[] = [];
  const values: Record<string, string> = {};
  const policy = agent.egress;
  const allow = policy?.mode === "allow" ? patternsOf(agent, "network.allow", policy.allow) : undefined;
  const deny = policy ? patternsOf(agent, "network.deny", policy.deny) : [];
  for (const [index, binding] of (agent.credentials ?? []).entries()) {
    if (allow) {
      const hosts = patternsOf(agent, `credentials.${index}.hosts`, binding.hosts, parseNamePattern);
      const reachable = (host: HostPattern) => allow.some((a) => covers(a, host)) && !deny.some((d) => covers(d, host));
      const outside = hosts.find((host) => !reachable(host))?.text;
      if (outside !== undefined) {
        throw refusal(
          agent,
          `credentials.${index}.hosts`,
          `${outside} is not on network.allow, and smolvm injects ${binding.env} only into requests the bottle may make.`,
          `Add ${outside} to network.allow.`,
        );
      }
    }
    const value = hostEnv[binding.env];
    if (value === undefined) continue;
    args.push("--credential", `${binding.env}=${binding.env}@${binding.hosts.join(",")}`);
    values[binding.env] = value;
  }
  const needs = args.length > 0 ? [{ feature: "credential" as const, neededFor: `The agent's credentials (${Object.keys(values).join(", ")})` }] : [];
  return { args, values, needs };
}
