import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { BottleError, ErrorCodes } from "../errors.js";
import { writeFileAtomically } from "../support/atomic-write.js";

/** One thing the user approved for one project: the digest of exactly what they were shown. */
export interface Approval {
  /** The project's real path. */
  project: string;
  /** `agent:<slug>` or `backend:<package>`. */
  subject: string;
  /** `sha256:<hex>` of the plan and the files behind it. */
  digest: string;
  /** ISO 8601. */
  approvedAt: string;
}

interface StoreFile {
  version: 1;
  approvals: Approval[];
}

/**
 * $XDG_STATE_HOME/claude-bottle, else ~/.local/state/claude-bottle: outside
 * every workspace, so no bottle can write an approval for itself.
 */
export function stateDir(env: Readonly<Record<string, string | undefined>>, home = homedir()): string {
  const base = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(home, ".local", "state");
  return join(base, "claude-bottle");
}

/** The user's approvals of project configuration, in one JSON file only they can read or write (0600). */
export class ApprovalStore {
  constructor(readonly file: string) {}

  static forUser(env: Readonly<Record<string, string | undefined>>, home?: string): ApprovalStore {
    return new ApprovalStore(join(stateDir(env, home), "approvals.json"));
  }

  async list(): Promise<Approval[]> {
    return (await this.read()).approvals;
  }

  async isApproved(project: string, subject: string, digest: string): Promise<boolean> {
    return (await this.list()).some((a) => a.project === project && a.subject === subject && a.digest === digest);
  }

  /** Records these approvals, each replacing any earlier one for the same project and subject. */
  async approve(approvals: readonly Omit<Approval, "approvedAt">[], now = new Date()): Promise<void> {
    const store = await this.read();
    const replaced = (a: Approval) => approvals.some((n) => n.project === a.project && n.subject === a.subject);
    store.approvals = [...store.approvals.filter((a) => !replaced(a)), ...approvals.map((a) => ({ ...a, approvedAt: now.toISOString() }))];
    await this.write(store);
  }

  /** Removes a project's approvals (only the given subjects, when any); returns what was removed. */
  async revoke(project: string, subjects?: readonly string[]): Promise<Approval[]> {
    const store = await this.read();
    const matches = (a: Approval) => a.project === project && (!subjects || subjects.includes(a.subject));
    const removed = store.approvals.filter(matches);
    if (removed.length) {
      store.approvals = store.approvals.filter((a) => !matches(a));
      await this.write(store);
    }
    return removed;
  }

  private async read(): Promise<StoreFile> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, approvals: [] };
      throw error;
    }
    const parsed = safeParse(text);
    if (!isStoreFile(parsed)) {
      throw new BottleError(ErrorCodes.APPROVAL_REQUIRED, `${this.file} is not a claude-bottle approvals file.`, {
        hint: `Move it away (every project will ask for approval again): mv ${this.file} ${this.file}.bak`,
      });
    }
    return parsed;
  }

  /** Written beside and renamed over, so a crash never leaves half a file; 0600 from the first byte. */
  private async write(store: StoreFile): Promise<void> {
    await writeFileAtomically(this.file, `${JSON.stringify(store, null, 2)}\n`, 0o600);
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isStoreFile(value: unknown): value is StoreFile {
  const store = value as Partial<StoreFile> | undefined;
  return (
    store?.version === 1 &&
    Array.isArray(store.approvals) &&
    store.approvals.every(
      (a) => typeof a?.project === "string" && typeof a.subject === "string" && typeof a.digest === "string" && typeof a.approvedAt === "string",
    )
  );
}
