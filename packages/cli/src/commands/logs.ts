import { Writable } from "node:stream";
import { formatAuthority, parseDenial } from "@claude-bottle/core";
import { requireCapability } from "@claude-bottle/core/host";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { printableLine } from "../render/printable.js";
import { loadSelectedBackend } from "../select-backend.js";

export interface LogsCommandOptions {
  follow: boolean;
  /** The connections the egress policy refused, instead of the bottle's output. */
  egress: boolean;
  /** With --egress: the records as the backend gives them, one JSON object a line. */
  json: boolean;
}

/** `logs <bottle> [-f] [--egress [--json]]`: the bottle's stdout to stdout and stderr to stderr, or its refused connections. */
export async function logs(environment: CommandEnvironment, bottle: string, options: LogsCommandOptions): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    const stdout = options.egress && !options.json ? denialTable(process.stdout) : process.stdout;
    await requireCapability(backend, "logs")(
      bottle,
      { follow: options.follow, egress: options.egress, stdio: { stdout, stderr: process.stderr } },
      session.context,
    );
    return ExitCodes.OK;
  });
}

/**
 * One refusal a line, for a person: when, where to, why, and the policy's own
 * words, so the user learns what to add to the agent's `network.allow`.
 */
function denialTable(out: NodeJS.WritableStream): Writable {
  let pending = "";
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        // A line that is not a record is not a refusal.
        const record = parseDenial(line);
        if (!record) continue;
        // port is null for a name refused before any connection (smolvm's refused lookups); host is "" too for a
        // request the proxy refused before it named a target (bytes that are not HTTP, too many connections).
        const where = record.host === "" ? "-" : record.port === null ? record.host : formatAuthority(record.host, record.port);
        out.write(`${printableLine(record.time)}  ${printableLine(where)}  ${printableLine(record.reason)}  ${printableLine(record.detail)}\n`);
      }
      done();
    },
  });
}
