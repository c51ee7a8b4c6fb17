import { DEFAULT_PIDS_LIMIT, defaultMemoryLimit } from "./agent/resources.js";
import type { BottleSpec } from "./spec/bottle-spec.js";
import { BottleError, ErrorCodes } from "./errors.js";

/**
 * What a bottle's spec can ask of the backend that runs it (SECURITY.md point
 * 8). A backend lists in `enforces` the ones it keeps; core refuses, before
 * `prepare`, a spec that asks for one its backend does not list.
 */
export const ENFORCEMENTS = [
  /** `network: false`: no interface but loopback. */
  "network.none",
  /** With network, never private, loopback or link-local addresses (cloud metadata among them), also behind a name. */
  "egress.private",
  /** `network.allow`: only the hosts listed, by name. */
  "egress.allow",
  /** `network.deny`: never the hosts listed. */
  "egress.deny",
  /** A `:port` on an allow or deny entry. */
  "egress.ports",
  /** `network.allowPrivate`: exactly these private ranges opened, no others. */
  "egress.allowPrivate",
  /** `credentials:`: the bottle holds a placeholder, the value goes only into requests to the bound hosts. */
  "credentials",
  "limits.cpus",
  "limits.memory",
  "limits.pids",
  /** An extra mount without `readOnly: false` cannot be written. */
  "mounts.readOnly",
  /** The workspace's git hooks and config, and `.claude-bottle`, cannot be changed from the bottle. */
  "hostControls.readOnly",
  /** `ports:`: each port reaches the bottle from the user's loopback only, never from another address. */
  "ports.publish",
  /** `network.host`: the bottle reaches exactly these ports of the host's loopback, and nothing else of the host. */
  "egress.host",
  /** `isolation: gvisor`: the bottle runs on gVisor's user-space kernel, not the host's. */
  "isolation.gvisor",
] as const;

export type Enforcement = (typeof ENFORCEMENTS)[number];

/** One thing an agent's spec needs kept, and where it comes from. */
export interface Requirement {
  enforcement: Enforcement;
  /** The agent file's field (or the flag) that asks for it. */
  field: string;
  /**
   * `asked`: the agent file or the command line says it. `default`: core's
   * own floor, which applies whatever the file says (the private-address
   * floor, the default limits, the read-only host controls).
   */
  source: "asked" | "default";
}

/** What `spec` needs its backend to keep, one entry per field. */
export function requirementsOf(spec: BottleSpec): Requirement[] {
  const required: Requirement[] = [];
  const add = (enforcement: Enforcement, field: string, source: Requirement["source"] = "asked") => required.push({ enforcement, field, source });
  if (!spec.network) {
    add("network.none", "network");
  } else {
    add("egress.private", "network", "default");
    const policy = spec.egress;
    if (policy?.mode === "allow") add("egress.allow", "network.allow");
    if (policy?.deny.length) add("egress.deny", "network.deny");
    if (policy?.allowPrivate.length) add("egress.allowPrivate", "network.allowPrivate");
    const entries = [...(policy?.mode === "allow" ? policy.allow : []), ...(policy?.deny ?? [])];
    if (entries.some((entry) => /:\d+$/.test(entry))) add("egress.ports", policy?.mode === "allow" ? "network.allow" : "network.deny");
  }
  if (spec.credentials.length) add("credentials", "credentials");
  const { cpus, memory, pids } = spec.resources;
  if (cpus !== undefined) add("limits.cpus", "resources.cpus");
  // A limit equal to core's default is the default, whether or not the file wrote it.
  add("limits.memory", "resources.memory", memory === defaultMemoryLimit() ? "default" : "asked");
  add("limits.pids", "resources.pids", pids === DEFAULT_PIDS_LIMIT ? "default" : "asked");
  spec.mounts.forEach((mount, index) => {
    if (mount.readOnly) add("mounts.readOnly", `mounts[${index}]`, "default");
  });
  add("hostControls.readOnly", "workspace", "default");
  if (spec.ports?.length) add("ports.publish", "ports");
  if (spec.hostServices?.length) add("egress.host", "network.host");
  if (spec.isolation === "gvisor") add("isolation.gvisor", "isolation");
  return required;
}

/** What a backend declares, as core reads it: a name and its `enforces` list (none declared means none kept). */
export interface EnforcingBackend {
  readonly name: string;
  readonly enforces?: readonly Enforcement[];
}

/** The requirements of `spec` that `backend` does not keep, asked ones and defaults apart. */
export function unkeptRequirements(spec: BottleSpec, backend: EnforcingBackend): { asked: Requirement[]; defaults: Requirement[] } {
  const kept = new Set(backend.enforces ?? []);
  const unkept = requirementsOf(spec).filter((requirement) => !kept.has(requirement.enforcement));
  return { asked: unkept.filter((r) => r.source === "asked"), defaults: unkept.filter((r) => r.source === "default") };
}

/**
 * Refuses an agent that asks for something its backend does not keep, naming
 * each field, so a backend that ignores a policy can never run it wider. What
 * core adds by default and the backend does not keep is returned, for the
 * caller to say: the user chose this backend, the agent file did not.
 */
export function assertEnforced(spec: BottleSpec, backend: EnforcingBackend): Requirement[] {
  const { asked, defaults } = unkeptRequirements(spec, backend);
  if (asked.length) {
    const where = spec.file ?? `The agent "${spec.slug}"`;
    const lines = asked.map((r) => `${r.field} needs a backend that enforces ${r.enforcement}; ${backend.name} does not.`);
    throw new BottleError(ErrorCodes.POLICY_NOT_ENFORCED, `${where}: ${lines.join(" ")}`, {
      hint: `Use a backend that enforces ${[...new Set(asked.map((r) => r.enforcement))].join(", ")} (the docker backend enforces every one), or remove ${asked.length > 1 ? "these fields" : "the field"} from the agent file.`,
    });
  }
  return defaults;
}

/** One line for what core would have kept by default and `backend` does not, or undefined when it keeps all. */
export function describeUnkeptDefaults(backend: EnforcingBackend, defaults: readonly Requirement[]): string | undefined {
  if (!defaults.length) return undefined;
  const what: Record<string, string> = {
    "egress.private": "private addresses refused (the bottle reaches your LAN, this host and cloud metadata)",
    "limits.memory": "the default memory limit",
    "limits.pids": "the default process limit",
    "mounts.readOnly": "read-only extra mounts",
    "hostControls.readOnly": "read-only git hooks, git config and .claude-bottle",
  };
  return `The ${backend.name} backend does not keep: ${defaults.map((r) => what[r.enforcement] ?? r.enforcement).join("; ")}.`;
}
