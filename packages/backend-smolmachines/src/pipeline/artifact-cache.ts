import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { link, mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isProcessAlive, throwIfAborted } from "@claude-bottle/core";

/** A packed machine: the stub smolvm writes and the `.smolmachine` beside it. Both are the artifact. */
export interface Artifact {
  key: string;
  stub: string;
  machine: string;
}

/** An image as prepare needs it: its ID and what it runs by itself. */
export interface BuiltImage {
  id: string;
  config: { Entrypoint?: string[] | null; Cmd?: string[] | null };
}

/** The cache key of an image: the first 16 hex characters of its `sha256:` ID. */
export function cacheKeyOf(imageId: string): string {
  const match = /^(?:sha256:)?([0-9a-f]{64})$/.exec(imageId);
  if (!match) throw new Error(`Not a sha256 image ID: ${imageId}`);
  return match[1]!.slice(0, 16);
}

/** Where the artifacts live inside claude-bottle's cache directory. */
export function artifactCacheDir(cacheDir: string): string {
  return join(cacheDir, "smolmachines");
}

interface LockOwner {
  token: string;
  pid: number;
  host: string;
  created: number;
}

/** A lock older than this is taken over even if its pid is alive (the pid may have been reused). */
const LOCK_STALE_AFTER_MS = 60 * 60 * 1000;
const LOCK_POLL_MS = 100;

/**
 * The artifacts, one per cache key, committed atomically: each is packed in
 * a staging directory inside the cache (same filesystem, so a rename moves it)
 * and renamed into place, `.smolmachine` first and the stub last, so a present
 * stub means a complete artifact. A lock per key lets one prepare pack while
 * the others wait for its result.
 */
export class ArtifactCache {
  constructor(readonly dir: string) {}

  paths(key: string): Artifact {
    const stub = join(this.dir, key);
    return { key, stub, machine: `${stub}.smolmachine` };
  }

  async lookup(key: string): Promise<Artifact | undefined> {
    const artifact = this.paths(key);
    try {
      const [machine, stub] = await Promise.all([stat(artifact.machine), stat(artifact.stub)]);
      return machine.isFile() && machine.size > 0 && stub.isFile() ? artifact : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Waits for the lock called `name` (a cache key, or the name of other work
   * to do once), reporting once through `onWait` if it has to; dispose of the
   * result, or call `release`, to let the next one in.
   */
  async lock(name: string, signal: AbortSignal, onWait?: () => void): Promise<AsyncDisposable & { release(): Promise<void> }> {
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, `${name}.lock`);
    const owner: LockOwner = { token: randomBytes(8).toString("hex"), pid: process.pid, host: hostname(), created: Date.now() };
    let reported = false;
    for (;;) {
      throwIfAborted(signal);
      if (await createExclusive(path, JSON.stringify(owner))) break;
      const holder = await readOwner(path);
      if (holder && isStale(holder)) {
        await takeOver(path, holder);
        continue;
      }
      if (!reported) onWait?.();
      reported = true;
      await sleep(LOCK_POLL_MS, undefined, { signal }).catch(() => throwIfAborted(signal));
    }
    const release = async () => {
      if ((await readOwner(path))?.token === owner.token) await unlink(path).catch(() => {});
    };
    return { release, [Symbol.asyncDispose]: release };
  }

  /**
   * Removes what a prepare killed with SIGKILL left and no later prepare of
   * its key would: its lock, and its staging directory (a kill after the
   * artifact was committed leaves both, and the next prepare finds the
   * artifact without taking the lock). A staging directory exists only while
   * its key's lock is held, so one whose lock is gone or stale is nobody's.
   */
  async sweep(): Promise<void> {
    const entries = await readdir(this.dir).catch(() => []);
    const liveLocks = new Set<string>();
    for (const entry of entries.filter((e) => e.endsWith(".lock"))) {
      const path = join(this.dir, entry);
      const holder = await readOwner(path);
      if (holder && isStale(holder)) await takeOver(path, holder);
      else liveLocks.add(entry.slice(0, -".lock".length));
    }
    for (const entry of entries) {
      const key = /^\.staging-([0-9a-f]{16})-/.exec(entry)?.[1];
      if (key && !liveLocks.has(key)) await rm(join(this.dir, entry), { recursive: true, force: true });
    }
  }

  /**
   * A fresh staging directory for `key`. Staging directories of the same key
   * left by a killed run are removed first; the caller holds the key's lock,
   * so none of them is in use.
   */
  async staging(key: string): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const prefix = `.staging-${key}-`;
    for (const entry of await readdir(this.dir)) {
      if (entry.startsWith(prefix)) await rm(join(this.dir, entry), { recursive: true, force: true });
    }
    return mkdtemp(join(this.dir, prefix));
  }

  /**
   * Remembers which image the build inputs `contextHash` made, so that the
   * next prepare of unchanged inputs finds its artifact without asking the
   * engine. Written to a temporary file and renamed, so a reader never sees
   * half of it. It holds image IDs and the image's own command, no secrets.
   */
  async recordInputs(contextHash: string, image: BuiltImage): Promise<void> {
    const file = this.inputsFile(contextHash);
    await mkdir(join(this.dir, "inputs"), { recursive: true });
    const temporary = `${file}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(temporary, JSON.stringify(image));
    await rename(temporary, file);
  }

  /** The image recorded for the build inputs `contextHash`, if any. */
  async imageForInputs(contextHash: string): Promise<BuiltImage | undefined> {
    try {
      const image = JSON.parse(await readFile(this.inputsFile(contextHash), "utf8")) as BuiltImage;
      return typeof image.id === "string" ? image : undefined;
    } catch {
      return undefined;
    }
  }

  private inputsFile(contextHash: string): string {
    return join(this.dir, "inputs", `${contextHash.slice(0, 32)}.json`);
  }

  /** Moves what `smolvm pack create -o <staging>/<key>` wrote into the cache. */
  async commit(stagingDir: string, key: string): Promise<Artifact> {
    const artifact = this.paths(key);
    await rename(join(stagingDir, `${key}.smolmachine`), artifact.machine);
    await rename(join(stagingDir, key), artifact.stub);
    return artifact;
  }
}

async function createExclusive(path: string, content: string): Promise<boolean> {
  try {
    const handle = await open(path, "wx");
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/** The lock's owner, or undefined while it is being written or after it went away. */
async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as LockOwner;
  } catch {
    return undefined;
  }
}

function isStale(owner: LockOwner): boolean {
  if (Date.now() - owner.created > LOCK_STALE_AFTER_MS) return true;
  return owner.host === hostname() && !isProcessAlive(owner.pid);
}

/**
 * Removes a dead owner's lock without racing another waiter that does the
 * same: the lock is renamed aside first, and if what was renamed turns out to
 * be a live lock taken in the meantime, it is linked back.
 */
async function takeOver(path: string, stale: LockOwner): Promise<void> {
  const aside = `${path}.${randomBytes(4).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch {
    return;
  }
  if ((await readOwner(aside))?.token !== stale.token) await link(aside, path).catch(() => {});
  await unlink(aside).catch(() => {});
}
