import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BottleInfo, BottleState } from "../backend.js";
import type { BackendContext } from "../context.js";
import { bottleNotFoundError } from "../errors.js";
import { isProcessAlive } from "./process.js";

/** What the store keeps of a detached bottle: never an environment value. */
export interface BottleRecord {
  name: string;
  agent: string;
  workspace: string;
  /** ISO 8601. */
  created: string;
  /** The host process that is the bottle, while it runs. */
  pid?: number;
  /** Its exit code, once it ended (written by whoever saw it end). */
  exitCode?: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Detached bottles of a backend that has no daemon to ask: one JSON file per
 * bottle under `<cacheDir>/<backend>/bottles/`, each written atomically
 * (a temporary file renamed into place), with `stdout`/`stderr` log files
 * beside it. `T` adds the backend's own fields (paths, no secrets).
 */
export class BottleStore<T extends object = object> {
  readonly dir: string;

  constructor(
    readonly backend: string,
    ctx: Pick<BackendContext, "cacheDir">,
  ) {
    this.dir = join(ctx.cacheDir, backend, "bottles");
  }

  /** Where the bottle's record and output live. */
  paths(name: string): { record: string; stdout: string; stderr: string } {
    if (!NAME.test(name)) throw bottleNotFoundError(this.backend, name);
    const base = join(this.dir, name);
    return { record: `${base}.json`, stdout: `${base}.stdout.log`, stderr: `${base}.stderr.log` };
  }

  async save(record: BottleRecord & T): Promise<void> {
    const { record: file } = this.paths(record.name);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const temporary = `${file}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(temporary, JSON.stringify(record), { mode: 0o600 });
    await rename(temporary, file);
  }

  /** The bottle's record, or undefined. */
  async find(name: string): Promise<(BottleRecord & T) | undefined> {
    if (!NAME.test(name)) return undefined;
    try {
      return JSON.parse(await readFile(this.paths(name).record, "utf8")) as BottleRecord & T;
    } catch {
      return undefined;
    }
  }

  /** The bottle's record, or the standard BOTTLE_NOT_FOUND. */
  async get(name: string): Promise<BottleRecord & T> {
    const found = await this.find(name);
    if (!found) throw bottleNotFoundError(this.backend, name);
    return found;
  }

  async list(): Promise<(BottleRecord & T)[]> {
    const entries = await readdir(this.dir).catch(() => [] as string[]);
    const records: (BottleRecord & T)[] = [];
    for (const entry of entries.filter((e) => e.endsWith(".json"))) {
      const record = await this.find(entry.slice(0, -".json".length));
      if (record) records.push(record);
    }
    return records;
  }

  /** Forgets the bottle: its record and its logs. */
  async delete(name: string): Promise<void> {
    const paths = this.paths(name);
    await Promise.all([paths.record, paths.stdout, paths.stderr].map((path) => rm(path, { force: true })));
  }

  /** Running while its pid is alive and no exit code was written; stopped after. */
  stateOf(record: BottleRecord): BottleState {
    if (record.exitCode === undefined && record.pid !== undefined && isProcessAlive(record.pid)) return "running";
    return "stopped";
  }

  /** A record as `list` reports it. */
  info(record: BottleRecord): BottleInfo {
    return { name: record.name, agent: record.agent, backend: this.backend, state: this.stateOf(record), workspace: record.workspace, created: record.created };
  }
}
