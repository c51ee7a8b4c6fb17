import { BottleError, ErrorCodes, parsePublishedPort, publishedUrl, type PublishedPort } from "@claude-bottle/core";
import { requireCapability } from "@claude-bottle/core/host";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { loadSelectedBackend } from "../select-backend.js";

/**
 * `port <bottle> [PORT]`: with PORT (3000, or HOST:BOTTLE), publishes it on
 * the user's loopback while the bottle runs; without, lists what it
 * publishes. Either way one line a port, `BOTTLE_PORT URL`: the URL is the
 * one to open for what the dev server inside prints as localhost:BOTTLE_PORT.
 */
export async function port(environment: CommandEnvironment, bottle: string, wanted: string | undefined): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    if (wanted !== undefined) {
      const asked = parsePublishedPort(wanted);
      if (!asked) {
        throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `${wanted} is not a port (1 to 65535) or HOST:BOTTLE.`, {
          hint: `For example: claude-bottle port ${bottle} 3000, or claude-bottle port ${bottle} 8080:3000`,
        });
      }
      await requireCapability(backend, "publish")(bottle, { port: asked }, session.context);
      process.stdout.write(portLine(asked));
      return ExitCodes.OK;
    }
    const found = (await requireCapability(backend, "list")(session.context)).find((b) => b.name === bottle);
    if (!found) throw new BottleError(ErrorCodes.BOTTLE_NOT_FOUND, `There is no bottle called ${bottle} on the ${backend.name} backend.`, { hint: "List the bottles with `claude-bottle ls`." });
    if (!found.ports?.length) {
      session.context.logger.info(`${bottle} publishes no port. Publish one with: claude-bottle port ${bottle} 3000`);
      return ExitCodes.OK;
    }
    process.stdout.write(found.ports.map(portLine).join(""));
    return ExitCodes.OK;
  });
}

function portLine(port: PublishedPort): string {
  return `${port.bottle} ${publishedUrl(port)}\n`;
}
