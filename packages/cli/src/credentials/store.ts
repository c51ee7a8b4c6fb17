import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { BottleError, ErrorCodes, writeFileAtomically, type ResolvedAgent } from "@claude-bottle/core";
import { stateDir } from "@claude-bottle/core/host";

/**
 * Where `claude-bottle login` keeps credentials on the host: the OS keychain
 * (macOS Keychain, Windows Credential Manager, the Secret Service on a Linux
 * desktop) through @napi-rs/keyring, else a 0600 file in claude-bottle's state
 * directory. Values are looked up by variable name (ANTHROPIC_API_KEY), so one
 * login serves every project. Never inside a workspace, never in the cache.
 */
export interface CredentialStore {
  readonly description: string;
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string): Promise<void>;
  /** Removes the names given (all when none); returns the names removed. */
  delete(names?: readonly string[]): Promise<string[]>;
}

type Env = Readonly<Record<string, string | undefined>>;

const SERVICE = "claude-bottle";

/**
 * The keychain where there is one to talk to, else the file.
 * CLAUDE_BOTTLE_CREDENTIAL_STORE=file|keychain chooses (tests and headless
 * machines use the file; a Linux without a desktop session has no keychain).
 */
export async function openCredentialStore(env: Env): Promise<CredentialStore> {
  const choice = env.CLAUDE_BOTTLE_CREDENTIAL_STORE?.trim();
  const file = new FileCredentialStore(join(stateDir(env), "credentials.json"));
  if (choice === "file") return file;
  const wantsKeychain = choice === "keychain" || process.platform === "darwin" || process.platform === "win32" || !!env.DBUS_SESSION_BUS_ADDRESS;
  if (!wantsKeychain) return file;
  try {
    return await KeychainCredentialStore.open(file);
  } catch (error) {
    if (choice === "keychain") {
      throw new BottleError(ErrorCodes.UNSUPPORTED, `No keychain could be used: ${error instanceof Error ? error.message : String(error)}`, {
        hint: "Unset CLAUDE_BOTTLE_CREDENTIAL_STORE to keep credentials in a 0600 file instead.",
        cause: error,
      });
    }
    return file;
  }
}

/** Credentials in one JSON file only the user can read (0600, in a 0700 directory), written atomically. */
export class FileCredentialStore implements CredentialStore {
  constructor(readonly file: string) {}

  get description(): string {
    return `${this.file} (readable by you only)`;
  }

  async get(name: string): Promise<string | undefined> {
    return (await this.read())[name];
  }

  async set(name: string, value: string): Promise<void> {
    await this.write({ ...(await this.read()), [name]: value });
  }

  async delete(names?: readonly string[]): Promise<string[]> {
    const all = await this.read();
    const removed = Object.keys(all).filter((name) => !names || names.includes(name));
    for (const name of removed) delete all[name];
    if (removed.length) await this.write(all);
    return removed;
  }

  /** The names kept here (for the keychain store, which keeps its own list in this file). */
  async names(): Promise<string[]> {
    return Object.keys(await this.read());
  }

  private async read(): Promise<Record<string, string>> {
    try {
      const parsed = JSON.parse(await readFile(this.file, "utf8")) as unknown;
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, string>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    }
    throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `${this.file} is not a claude-bottle credentials file.`, {
      hint: `Move it away and log in again: mv ${this.file} ${this.file}.bak && claude-bottle login`,
    });
  }

  private async write(values: Record<string, string>): Promise<void> {
    await writeFileAtomically(this.file, `${JSON.stringify(values, null, 2)}\n`, 0o600);
  }
}

interface KeyringEntry {
  getPassword(): string | null | undefined;
  setPassword(value: string): void;
  deletePassword(): boolean;
}

/**
 * The OS keychain. Keychains cannot list an application's entries portably,
 * so the names (never the values) are kept in the file store as empty strings.
 */
class KeychainCredentialStore implements CredentialStore {
  readonly description = "your system keychain";

  private constructor(
    private readonly Entry: new (service: string, account: string) => KeyringEntry,
    private readonly index: FileCredentialStore,
  ) {}

  static async open(index: FileCredentialStore): Promise<KeychainCredentialStore> {
    const { Entry } = (await import("@napi-rs/keyring")) as unknown as { Entry: new (service: string, account: string) => KeyringEntry };
    // A probe: a keychain that cannot be reached throws here rather than at the first login.
    new Entry(SERVICE, "probe").getPassword();
    return new KeychainCredentialStore(Entry, index);
  }

  async get(name: string): Promise<string | undefined> {
    return new this.Entry(SERVICE, name).getPassword() ?? undefined;
  }

  async set(name: string, value: string): Promise<void> {
    new this.Entry(SERVICE, name).setPassword(value);
    await this.index.set(name, "");
  }

  async delete(names?: readonly string[]): Promise<string[]> {
    const known = await this.index.names();
    const removed = known.filter((name) => !names || names.includes(name));
    for (const name of removed) new this.Entry(SERVICE, name).deletePassword();
    await this.index.delete(removed);
    return removed;
  }
}

/**
 * The environment a bottle's values are read from: the host's own, then the
 * stored credentials for the names the agent uses and the host has not set.
 * The store is opened only when such a name exists, so a start with nothing
 * to look up never touches it.
 */
export async function withStoredCredentials(env: Env, names: readonly string[]): Promise<Env> {
  const missing = names.filter((name) => env[name] === undefined);
  if (!missing.length) return env;
  const store = await openCredentialStore(env);
  const found: Record<string, string> = {};
  for (const name of missing) {
    const value = await store.get(name);
    if (value) found[name] = value;
  }
  return Object.keys(found).length ? { ...env, ...found } : env;
}

/** The names an agent's credential bindings read their values from. */
export function credentialNames(agent: ResolvedAgent): string[] {
  return [...new Set((agent.credentials ?? []).map((c) => c.env))];
}
