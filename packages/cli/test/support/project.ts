import { cpSync, mkdirSync, mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** A scratch project with its own config and cache homes, so the developer's agents never leak in. */
export interface TestProject {
  dir: string;
  configHome: string;
  cacheHome: string;
  /** Where approvals are kept ($XDG_STATE_HOME). */
  stateHome: string;
  /** Where worktrees and bottle status live ($XDG_DATA_HOME). */
  dataHome: string;
  /** The environment that points the CLI at this project's homes. */
  env: Record<string, string>;
  writeAgent(slug: string, yaml: string): string;
  writeUserAgent(slug: string, yaml: string): string;
  /** Installs the fake backend fixture (or another package) into the project's node_modules. */
  installPackage(name: string, files: Record<string, string>): void;
  installFakeBackend(): void;
}

const FAKE_BACKEND = fileURLToPath(new URL("../fixtures/backend-fake", import.meta.url));

export function createProject(): TestProject {
  // realpath: macOS's tmpdir is a symlink, and the CLI reports resolved paths.
  const root = realpathSync(mkdtempSync(join(tmpdir(), "claude-bottle-cli-test-")));
  const dir = join(root, "project");
  const configHome = join(root, "config");
  const cacheHome = join(root, "cache");
  const stateHome = join(root, "state");
  const dataHome = join(root, "data");
  for (const d of [dir, configHome, cacheHome]) mkdirSync(d, { recursive: true });
  const write = (file: string, text: string) => {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  };
  return {
    dir,
    configHome,
    cacheHome,
    stateHome,
    dataHome,
    env: { XDG_CONFIG_HOME: configHome, XDG_CACHE_HOME: cacheHome, XDG_STATE_HOME: stateHome, XDG_DATA_HOME: dataHome },
    writeAgent: (slug, yaml) => write(join(dir, ".claude-bottle", "agents", `${slug}.yaml`), yaml),
    writeUserAgent: (slug, yaml) => write(join(configHome, "claude-bottle", "agents", `${slug}.yaml`), yaml),
    installPackage(name, files) {
      for (const [file, text] of Object.entries(files)) write(join(dir, "node_modules", name, file), text);
    },
    installFakeBackend() {
      cpSync(FAKE_BACKEND, join(dir, "node_modules", "claude-bottle-backend-fake"), { recursive: true });
    },
  };
}
