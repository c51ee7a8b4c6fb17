import { createHash } from "node:crypto";
import { realpath } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { realPath } from "../agent/host-paths.js";
import { BottleError, ErrorCodes } from "../errors.js";
import type { BackendSnapshot } from "../plugin/backend-copy.js";
import type { LocatedBackend } from "../plugin/locate-backend.js";
import type { BottleSpec } from "../spec/bottle-spec.js";
import { fingerprintFiles, type FileFingerprint } from "./fingerprint.js";
import { closureBase, readModuleClosure, readPackageClosure } from "./package-closure.js";
import type { BottlePlan } from "./plan.js";
import type { Approval } from "./store.js";

/** Something from a project that needs the user's approval before it takes effect. */
export type ApprovalRequest = Omit<Approval, "approvedAt"> & {
  /** What the digest covers, for `trust --list` and --debug. */
  files: FileFingerprint[];
  /** A backend's: the bytes digested, to import once approved (importApprovedBackend). */
  snapshot?: BackendSnapshot;
};

/**
 * What the user must approve before `plan` may run: the project's agent file
 * (with the Dockerfile and .dockerignore it builds from), and a backend
 * package found in the project (with every file it can load). Built-in and
 * user-level agents and backends installed beside claude-bottle need none.
 */
export async function approvalsNeeded(agent: BottleSpec | undefined, plan: BottlePlan | undefined, backend: LocatedBackend): Promise<ApprovalRequest[]> {
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

/**
 * A project backend's approval, keyed by the project that installed it: the
 * digest of its closure (its package and declared dependencies), and the
 * snapshot of exactly the bytes digested, which is what gets imported.
 */
export async function backendApprovalNeeded(backend: LocatedBackend): Promise<ApprovalRequest | undefined> {
  if (backend.kind === "builtin" || !backend.fromProject) return undefined;
  // Real paths: a pnpm package is reached through a link, and its dependencies are found from where it really is.
  const packageDir = await realpath(backend.packageDir);
  const entry = join(packageDir, relative(backend.packageDir, backend.entry));
  const closure = backend.packageName ? await readPackageClosure(packageDir) : await readModuleClosure(entry, join(packageDir, "package.json"));
  if (!closure.files.some((f) => f.path === entry)) {
    throw new BottleError(ErrorCodes.BACKEND_INVALID, `The backend "${backend.name}" loads ${backend.entry}, which is not a file of its package ${packageDir}.`, {
      hint: "A backend's entry must be a file inside its package directory.",
    });
  }
  const files = closure.files.map(({ path, sha256 }) => ({ path, sha256 }));
  const executables = closure.files.filter((f) => f.executable).map((f) => f.path);
  const digest = digestOf({ entry: backend.entry, package: backend.packageName ?? null, version: backend.version ?? null, files, executables, links: closure.links });
  const base = closureBase(closure);
  return {
    project: realPath(installingProject(backend.packageDir)),
    subject: `backend:${backend.packageName ?? basename(backend.entry)}`,
    digest,
    files,
    snapshot: { digest, base, entry: relative(base, entry), closure },
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
