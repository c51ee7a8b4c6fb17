import { requireCapability, type BottleInfo } from "@claude-bottle/core";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { formatAge } from "../render/format.js";
import { formatTable } from "../render/table.js";
import { loadSelectedBackend } from "../select-backend.js";

/** `ls`: the selected backend's bottles, as a table (ages relative) or JSON (ISO dates). */
export async function ls(environment: CommandEnvironment, options: { json: boolean }): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    const bottles = await requireCapability(backend, "list")(session.context);
    process.stdout.write(options.json ? `${JSON.stringify(bottles, null, 2)}\n` : asTable(bottles));
    return ExitCodes.OK;
  });
}

function asTable(bottles: BottleInfo[]): string {
  if (!bottles.length) return "No bottles.\n";
  return formatTable(
    ["NAME", "AGENT", "BACKEND", "STATE", "CREATED", "WORKSPACE"],
    bottles.map((b) => [b.name, b.agent, b.backend, b.state, formatAge(b.created), b.workspace]),
  );
}
