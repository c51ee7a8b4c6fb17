import type { ApprovalRequest, BottlePlan } from "@claude-bottle/core/host";
import { formatBytes } from "../render/format.js";
import { printableLine } from "../render/printable.js";

const ORIGIN_NAMES = { project: "this project", user: "your user-level", builtin: "the built-in" } as const;

/**
 * The plan as the user reviews it: every host path with ro/rw, every
 * variable name passed through, the network, the limits, and the code that
 * will run on the host. Every string from the project is made printable.
 */
export function formatPlan(plan: BottlePlan | undefined, requests: readonly ApprovalRequest[]): string {
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(10)} ${printableLine(value)}`);
  const more = (value: string) => lines.push(`  ${"".padEnd(10)} ${printableLine(value)}`);

  if (plan) {
    const { agent } = plan;
    row("agent", `${agent.slug}${agent.description ? `: ${agent.description}` : ""}`);
    more(agent.file ? `from ${agent.file} (${ORIGIN_NAMES[agent.origin]} agent file)` : `${ORIGIN_NAMES[agent.origin]} agent`);
    for (const replaced of agent.replaces) {
      lines.push(
        `  !!         THIS FILE REPLACES ${replaced === "builtin" ? "THE BUILT-IN" : "YOUR OWN (user-level)"} AGENT "${printableLine(agent.slug)}":`,
        `  !!         \`claude-bottle start ${printableLine(agent.slug)}\` here runs what this project says, not ${replaced === "builtin" ? "claude-bottle's own recipe" : "yours"}.`,
      );
    }
    if ("build" in plan.image) {
      row("image", `built from ${plan.image.build.dockerfile}`);
      more(`context ${plan.image.build.context}`);
      const args = Object.entries(plan.image.build.args);
      if (args.length) more(`build args ${args.map(([k, v]) => `${k}=${v}`).join(" ")}`);
      more(`build network: ${BUILD_NETWORK_LINES[plan.image.build.network]}`);
    } else {
      row("image", plan.image.ref);
    }
    row("command", plan.command ? [...plan.command, ...plan.args].map(quote).join(" ") : `the image's own${plan.args.length ? `, with ${plan.args.map(quote).join(" ")}` : ""}`);
    row("workspace", `${plan.workspace} -> /workspace (read-write)`);
    if (!plan.mounts.length) row("mounts", "none");
    plan.mounts.forEach((m, index) => (index ? more : (v: string) => row("mounts", v))(`${m.source} -> ${m.target} (${m.readOnly ? "read-only" : "READ-WRITE"})`));
    row("env", plan.env.passthrough.length ? `from your environment, by name: ${plan.env.passthrough.join(", ")}` : "nothing from your environment");
    const literals = Object.entries(plan.env.literal);
    if (literals.length) more(`set: ${literals.map(([k, v]) => `${k}=${v}`).join(" ")}`);
    row("network", networkLine(plan.network));
    if (plan.network !== "off" && plan.network.deny.length) more(`never: ${plan.network.deny.join(", ")}`);
    if (plan.network !== "off" && plan.network.allowPrivate.length) more(`PRIVATE RANGES OPENED: ${plan.network.allowPrivate.join(", ")}`);
    for (const [index, credential] of plan.credentials.entries()) {
      (index ? more : (v: string) => row("secrets", v))(`${credential.env}: a placeholder in the bottle; the value only in requests to ${credential.hosts.join(", ")}`);
    }
    if (plan.ports) {
      for (const [index, port] of plan.ports.published.entries()) {
        (index ? more : (v: string) => row("ports", v))(`the bottle's ${port.bottle} on your 127.0.0.1:${port.host} and [::1]:${port.host} only`);
      }
      if (plan.ports.host.length) row("host", `YOUR MACHINE'S LOOPBACK PORTS ${plan.ports.host.join(", ")}, at host.claude-bottle.internal`);
    }
    const { resources } = plan;
    row("limits", `memory ${formatBytes(resources.memoryBytes)}, ${resources.pids} processes, ${resources.cpus === null ? "CPUs unlimited" : `${resources.cpus} CPUs`}`);
    row("isolation", plan.isolation ? ISOLATION_LINES[plan.isolation] : "the backend's default (docker: runc, the host's kernel)");
    row("backend", plan.backend.source === "built-in" ? `${plan.backend.name} (built-in)` : backendLine(plan.backend));
  }
  const backendRequest = requests.find((r) => r.subject.startsWith("backend:"));
  if (backendRequest && !plan) row("backend", `${backendRequest.subject.slice("backend:".length)}, installed in ${backendRequest.project}`);
  if (backendRequest) {
    lines.push("  !!         This backend's code comes from the project and runs ON YOUR MACHINE, outside any bottle.");
    more(`Approving covers the ${backendRequest.files.length} files of its package and of the dependencies it declares; it runs from a copy of exactly those.`);
  }
  const agentRequest = requests.find((r) => r.subject.startsWith("agent:"));
  if (agentRequest) row("approves", agentRequest.files.filter((f) => f.sha256 !== "absent").map((f) => f.path).join(", "));
  return `${lines.join("\n")}\n`;
}

const ISOLATION_LINES = {
  gvisor: "gvisor (gVisor's user-space kernel answers the agent's system calls, not the host's)",
  runc: "runc (the host's kernel, behind namespaces and seccomp)",
} as const;

const BUILD_NETWORK_LINES = {
  off: "off (its RUN and ADD steps reach nothing)",
  policy: "under the network rules below (docker: through the bottle's egress proxy; smolmachines: none, its rules are kept only once the machine runs)",
  engine: "the engine's (claude-bottle's own Dockerfile)",
} as const;

function networkLine(network: BottlePlan["network"]): string {
  if (network === "off") return "off";
  if (network.mode === "all") return "the internet (never private addresses or cloud metadata)";
  return `only ${network.allow.join(", ")}`;
}

function backendLine(backend: BottlePlan["backend"]): string {
  const name = backend.package ? `${backend.package}${backend.version ? `@${backend.version}` : ""}` : backend.name;
  return `${name} from ${backend.source}${backend.fromProject ? " (project code)" : ""}`;
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
}
