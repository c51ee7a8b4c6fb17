import { existsSync } from "node:fs";
import { BottleError, ErrorCodes, realPath, type Backend, type BackendContext, type HomeInfo } from "@claude-bottle/core";
import { requireCapability } from "@claude-bottle/core/host";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { formatTable } from "../render/table.js";
import { loadSelectedBackend } from "../select-backend.js";

/** `ls --homes`: every home the backend keeps, with its agent and project, and whether the project still exists. */
export async function listHomes(environment: CommandEnvironment, options: { json: boolean }): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    const homes = (await requireCapability(backend, "homes")(session.context)).map((home) => ({ ...home, projectExists: projectExists(home) }));
    if (options.json) process.stdout.write(`${JSON.stringify(homes, null, 2)}\n`);
    else if (!homes.length) process.stdout.write("No homes.\n");
    else {
      process.stdout.write(
        formatTable(
          ["AGENT", "PROJECT", "HOME"],
          homes.map((h) => [h.agent, h.project ? `${h.project}${h.projectExists ? "" : " (gone)"}` : "(every project: from before homes were per project)", h.name]),
        ),
      );
    }
    return ExitCodes.OK;
  });
}

/** `rm --home [agent]`: removes this project's homes (of one agent, or all). */
export async function removeProjectHomes(environment: CommandEnvironment, agent: string | undefined): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    const project = realPath(session.context.cwd);
    const homes = (await requireCapability(backend, "homes")(session.context)).filter(
      (home) => home.project === project && (agent === undefined || home.agent === agent),
    );
    if (!homes.length) {
      throw new BottleError(ErrorCodes.HOME_NOT_FOUND, `No home ${agent ? `of the agent "${agent}" ` : ""}for ${project}.`, {
        hint: "List the homes with `claude-bottle ls --homes`; run rm --home from the project's directory.",
      });
    }
    return removeAll(backend, homes, session.context);
  });
}

/** `prune`: removes the homes of projects that no longer exist. */
export async function prune(environment: CommandEnvironment): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    const gone = (await requireCapability(backend, "homes")(session.context)).filter((home) => home.project && !projectExists(home));
    if (!gone.length) {
      process.stdout.write("Nothing to prune: every home's project still exists.\n");
      return ExitCodes.OK;
    }
    return removeAll(backend, gone, session.context);
  });
}

async function removeAll(backend: Backend, homes: readonly HomeInfo[], ctx: BackendContext): Promise<number> {
  if (typeof backend.removeHome !== "function") {
    throw new BottleError(ErrorCodes.UNSUPPORTED, `The ${backend.name} backend lists homes but cannot remove them.`, {
      hint: "Remove them with the backend's own tools.",
    });
  }
  for (const home of homes) {
    await backend.removeHome(home.name, ctx);
    process.stdout.write(`removed ${home.name} (${home.agent}, ${home.project || "every project"})\n`);
  }
  return ExitCodes.OK;
}

function projectExists(home: HomeInfo): boolean {
  return home.project !== "" && existsSync(home.project);
}
