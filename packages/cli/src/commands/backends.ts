import {
  ApprovalStore,
  BACKEND_PACKAGE_PREFIXES,
  BottleError,
  backendApprovalNeeded,
  backendShortName,
  findInstalledBackends,
  locateBackend,
  selectedBackendName,
  type Capability,
  type Enforcement,
} from "@claude-bottle/core";
import { builtinBackends } from "../builtin-backends.js";
import type { CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { cliPackageDir } from "../package-dir.js";
import { formatTable } from "../render/table.js";
import { importFor, trustCommand } from "../select-backend.js";
import { pendingApprovals } from "../trust/approve.js";

interface BackendRow {
  name: string;
  package: string;
  /** "built-in", or the entry file it loads from. */
  source: string;
  selected: boolean;
  loads: boolean;
  capabilities: Capability[];
  /** What it declares it enforces of a bottle's spec; core refuses an agent asking for anything else. */
  enforces: Enforcement[];
  /** For a package from the project: whether the user approved its code. */
  approval: "needed" | "approved" | null;
  error: string | null;
}

/**
 * `backends`: the built-ins, then every backend package installed in the
 * project or next to the CLI, each loaded for real so a broken install shows
 * up here rather than at the next start; except a package from the project
 * that the user has not approved, which is listed from its package.json
 * without running any of its code.
 */
export async function backends(environment: CommandEnvironment, options: { json: boolean }): Promise<number> {
  const env = process.env;
  const projectDir = process.cwd();
  const hostDir = cliPackageDir();
  const builtins = builtinBackends();
  const store = ApprovalStore.forUser(env);
  const selected = selectedBackendName(environment.globals.backend, env);

  const candidates = new Map<string, string>(); // package name -> the name to load it by
  for (const name of Object.keys(builtins)) candidates.set(`${BACKEND_PACKAGE_PREFIXES[0]}${name}`, name);
  for (const packageName of await findInstalledBackends([projectDir, hostDir])) {
    if (!candidates.has(packageName)) candidates.set(packageName, packageName);
  }
  // A short name selects the first package it resolves to: built-ins, then the scoped name, then the unscoped one.
  const selects = (packageName: string, loadName: string) =>
    loadName === selected || packageName === selected || backendShortName(packageName) === selected;
  const selectedPackage = [...candidates].find(([packageName, loadName]) => selects(packageName, loadName))?.[0];
  if (!selectedPackage) candidates.set(selected, selected);

  const rows: BackendRow[] = [];
  for (const [packageName, loadName] of candidates) {
    const row: BackendRow = {
      name: backendShortName(packageName),
      package: packageName,
      source: loadName in builtins ? "built-in" : "",
      selected: packageName === (selectedPackage ?? selected),
      loads: false,
      capabilities: [],
      enforces: [],
      approval: null,
      error: null,
    };
    try {
      const located = await locateBackend({ name: loadName, env, projectDir, hostDir, builtins });
      if (located.kind === "package") row.source = located.entry;
      // A package from the project is listed from its package.json; its code runs only once approved.
      const request = await backendApprovalNeeded(located);
      if (request && (await pendingApprovals(store, [request])).length) {
        row.approval = "needed";
        row.error = `comes from this project and is not approved; its code was not run. Approve it: ${trustCommand({ backend: row.name })}`;
      } else {
        const loaded = await importFor(located, request, env);
        row.source = loaded.source;
        row.loads = true;
        row.capabilities = [...loaded.backend.capabilities];
        row.enforces = [...(loaded.backend.enforces ?? [])];
        if (request) row.approval = "approved";
      }
    } catch (error) {
      row.error = BottleError.isInstance(error) ? error.message : String(error);
    }
    rows.push(row);
  }

  process.stdout.write(options.json ? `${JSON.stringify(rows, null, 2)}\n` : asTable(rows));
  return ExitCodes.OK;
}

function asTable(rows: BackendRow[]): string {
  const table = formatTable(
    ["", "BACKEND", "PACKAGE", "STATUS", "CAPABILITIES"],
    rows.map((r) => [
      r.selected ? "*" : "",
      r.name,
      r.package,
      r.approval === "needed" ? "needs approval" : r.loads ? (r.source === "built-in" ? "built-in" : "installed") : "fails to load",
      r.capabilities.join(", "),
    ]),
  );
  const errors = rows.filter((r) => r.error).map((r) => `\n${r.name}: ${r.error}\n`);
  return `${table}${errors.join("")}\n* selected (--backend, CLAUDE_BOTTLE_BACKEND, or the default)\n`;
}
