import { listAgents, type AgentListing } from "@claude-bottle/core/host";
import { builtinAgents } from "../builtin-agents.js";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { printable } from "../render/printable.js";
import { formatTable } from "../render/table.js";

/**
 * `agents`: every agent start can use from here, where it is defined, what it
 * hides, and why an invalid file cannot start.
 */
export async function agents(environment: CommandEnvironment, options: { json: boolean }): Promise<number> {
  return withSession(environment, {}, async ({ context }) => {
    // With --debug the logger says which project files were skipped and why.
    const listings = await listAgents({ cwd: context.cwd, env: context.env, builtins: builtinAgents(), logger: context.logger });
    process.stdout.write(options.json ? `${JSON.stringify(listings.map(toJson), null, 2)}\n` : asTable(listings));
    return ExitCodes.OK;
  });
}

function toJson(listing: AgentListing) {
  return {
    slug: listing.slug,
    origin: listing.origin,
    location: listing.location,
    description: listing.description ?? null,
    shadows: listing.shadows,
    error: listing.error ? { code: listing.error.code, message: listing.error.message, hint: listing.error.hint ?? null } : null,
  };
}

function asTable(listings: AgentListing[]): string {
  if (!listings.length) return "No agents found.\n";
  const table = formatTable(
    ["AGENT", "ORIGIN", "DESCRIPTION", "LOCATION"],
    listings.map((l) => [
      l.slug,
      l.shadows.length ? `${l.origin} (over ${l.shadows.join(", ")})` : l.origin,
      l.error ? "invalid, see below" : (l.description ?? ""),
      l.location,
    ]),
  );
  const errors = listings.filter((l) => l.error).map((l) => `\n${l.slug}: ${printable(l.error!.message)}\n`);
  return table + errors.join("");
}
