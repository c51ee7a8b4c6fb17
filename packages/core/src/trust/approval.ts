import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { realPath } from "../agent/host-paths.js";
import type { ResolvedAgent } from "../agent/model.js";
import type { LocatedBackend } from "../plugin/load-backend.js";
import { fingerprintFiles, packageClosureFiles, type FileFingerprint } from "./fingerprint.js";
import type { BottlePlan } from "./plan.js";
import type { Approval } from "./store.js";

/** Something from a project that needs the user's approval before it takes effect. */
export type ApprovalRequest = Omit<Approval, "approvedAt"> & {
  /** What the digest covers, for `trust --list` and --debug. */
  files: FileFingerprint[];
};

/**
 * What the user must approve before `plan` may run: the project's agent file
 * (with the Dockerfile and .dockerignore it builds from), and a backend
 * package found in the project (with every file it can load). Built-in and
 * user-level agents and backends installed beside claude-bottle need none.
 */
export async function approvalsNeeded(agent: ResolvedAgent | undefined, plan: BottlePlan | undefined, backend: LocatedBackend): Promise<ApprovalRequest[]> {
  const needed: ApprovalRequest[] = [];
  if (agent && plan && agent.origin === "project" && agent.file) {
    const buildFiles = agent.image.kind === "build" ? [agent.image.dockerfile, join(agent.image.context, ".dockerignore")] : [];
    const files = await fingerprintFiles([agent.file, ...buildFiles]);
    // The approval is of the agent, whichever built-in backend runs it; a project backend is approved on its own.
    const { backend: _backend, ...shown } = plan;
    needed.push({
      project: realPath(agent.projectRoot ?? dirname(dirname(dirname(agent.file)))),
      subject: `agent:${agent.slug}`,
      digest: digestOf({ plan: shown, files }),
      files,
    });
  }
  const backendRequest = await backendApprovalNeeded(backend);
  if (backendRequest) needed.push(backendRequest);
  return needed;
}

/** A project backend's approval: its package and dependencies, keyed by the project that installed it. */
export async function backendApprovalNeeded(backend: LocatedBackend): Promise<ApprovalRequest | undefined> {
  if (backend.kind === "builtin" || !backend.fromProject) return undefined;
  const lone = !backend.packageName;
  const files = await fingerprintFiles(lone ? [backend.entry] : await packageClosureFiles(backend.packageDir));
  return {
    project: realPath(installingProject(backend.packageDir)),
    subject: `backend:${backend.packageName ?? basename(backend.entry)}`,
    digest: digestOf({ entry: backend.entry, package: backend.packageName ?? null, version: backend.version ?? null, files }),
    files,
  };
}

/** The directory whose node_modules holds the package; a lone module's own directory. */
function installingProject(packageDir: string): string {
  const parts = packageDir.split("/node_modules/");
  return parts.length > 1 ? parts[0]! || "/" : packageDir;
}

/** sha256 of canonical JSON (keys sorted), so the same content always gives the same digest. */
export function digestOf(value: unknown): string {
  return `sha256:${createHash("sha256").update(canonicalJson(value)).digest("hex")}`;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
