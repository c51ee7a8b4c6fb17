import { requireCapability } from "@claude-bottle/core/host";
import { forgetVanished, vanishedWorktreeBottles, viewOf, type BottleView } from "../bottles/view.js";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { formatAge } from "../render/format.js";
import { printableLine } from "../render/printable.js";
import { publishedUrl } from "@claude-bottle/core";
import { formatTable } from "../render/table.js";
import { loadSelectedBackend } from "../select-backend.js";

/** `ls`: the selected backend's bottles with their status and worktree, as a table (ages relative) or JSON (ISO dates). */
export async function ls(environment: CommandEnvironment, options: { json: boolean }): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    const { env } = session.context;
    const bottles = await requireCapability(backend, "list")(session.context);
    await forgetVanished(env, backend.name, bottles);
    const views = [
      ...(await Promise.all(bottles.map((bottle) => viewOf(env, backend.name, bottle)))),
      ...(await vanishedWorktreeBottles(env, backend.name, bottles)),
    ];
    process.stdout.write(options.json ? `${JSON.stringify(views, null, 2)}\n` : asTable(views));
    return ExitCodes.OK;
  });
}

/** `waiting (2 minutes ago)`: the status and since when. */
export function statusCell(view: Pick<BottleView, "status">, now = Date.now()): string {
  const { state, since } = view.status;
  return since ? `${state} (${formatAge(since, now)})` : state;
}

/** `http://127.0.0.1:8080/->3000`: the URL to open for each published port, and the bottle's port behind it. */
function portsCell(view: Pick<BottleView, "ports">): string {
  return view.ports?.length ? view.ports.map((p) => `${publishedUrl(p)}->${p.bottle}`).join(", ") : "-";
}

function asTable(bottles: BottleView[]): string {
  if (!bottles.length) return "No bottles.\n";
  const table = formatTable(
    ["NAME", "AGENT", "BACKEND", "ISOLATION", "STATE", "STATUS", "CREATED", "BRANCH", "PORTS", "WORKSPACE"],
    bottles.map((b) =>
      [b.name, b.agent, b.backend, b.isolation ?? "-", b.degraded ? "degraded" : b.state, statusCell(b), formatAge(b.created), b.worktree?.branch ?? "-", portsCell(b), b.workspace],
    ),
  );
  // What is wrong, and the way back, under the table: a cell would be too narrow for it.
  const notes = bottles
    .filter((b) => b.degraded)
    .map((b) => `${b.name} is degraded: ${printableLine(b.degraded!)}. Bring it back with: claude-bottle proxy restart ${b.name}\n`);
  return notes.length ? `${table}\n${notes.join("")}` : table;
}
