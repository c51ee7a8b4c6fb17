import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomically } from "@claude-bottle/core";
import { stateDir } from "@claude-bottle/core/host";

type Env = Readonly<Record<string, string | undefined>>;

const SUFFIX = ".ca-key.pem";

/**
 * Where a credential bottle's CA key is kept while the bottle exists: the state
 * directory, beside `login`'s store (0600 in a 0700 directory), never the cache
 * and never mounted into a container. A proxy restarted alone needs it: the
 * agent's running processes trust this CA only, and would refuse a new one's.
 */
function keyDir(env: Env): string {
  return join(stateDir(env), "docker", "egress");
}

export async function keepCaKey(env: Env, bottle: string, keyPem: string): Promise<void> {
  await writeFileAtomically(join(keyDir(env), `${bottle}${SUFFIX}`), keyPem, 0o600);
}

/** The key, or undefined when the bottle's start kept none (it had no credentials, or predates this). */
export async function readCaKey(env: Env, bottle: string): Promise<string | undefined> {
  return readFile(join(keyDir(env), `${bottle}${SUFFIX}`), "utf8").catch(() => undefined);
}

export async function forgetCaKey(env: Env, bottle: string): Promise<void> {
  await rm(join(keyDir(env), `${bottle}${SUFFIX}`), { force: true });
}

/** The bottles whose CA keys are kept (the reaper removes those whose bottle is gone). */
export async function bottlesWithCaKeys(env: Env): Promise<string[]> {
  const entries = await readdir(keyDir(env)).catch(() => []);
  return entries.filter((entry) => entry.endsWith(SUFFIX)).map((entry) => entry.slice(0, -SUFFIX.length));
}
