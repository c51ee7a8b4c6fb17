import { isIP } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { createAddressGuard } from "@claude-bottle/egress-proxy";
import { BottleError, ErrorCodes, formatAuthority, formatDenial, splitHostPort, parsePort, type DenialRecord, type LogsOptions } from "@claude-bottle/core";
import type { Smolvm } from "../smolvm/locate.js";
import { runSmolvm, smolvmFailure } from "../smolvm/run.js";

/** One object of `smolvm machine egress-events --json` (SMOLVM.md, "Egress denials"); smolvm may add fields. */
export interface SmolvmEgressEvent {
  /** An RFC 3339 string or a number of seconds (or milliseconds) since the epoch: not established, both are read. */
  timestamp?: string | number | null;
  /** `connect`, `sendto` or `resolve`. */
  operation?: string | null;
  /** `ADDRESS:PORT` (`[v6]:PORT`) for connect and sendto, the name for resolve. */
  dest?: string | null;
}

function isoTime(value: SmolvmEgressEvent["timestamp"]): string {
  const fromNumber = (n: number) => new Date(n > 1e12 ? n : n * 1000);
  const date =
    typeof value === "number" ? fromNumber(value) : typeof value === "string" && /^\d+(\.\d+)?$/.test(value.trim()) ? fromNumber(Number(value)) : new Date(value ?? NaN);
  return Number.isNaN(date.getTime()) ? String(value ?? "") : date.toISOString();
}

/** `1.2.3.4:443`, `[2001:db8::1]:443`, a bare address or a name; what cannot be read is kept whole as the host, with no port. */
function splitDestination(dest: string): { host: string; port: number | null } {
  if (isIP(dest) === 6) return { host: dest, port: null };
  const split = splitHostPort(dest);
  const port = split?.port === undefined ? undefined : parsePort(split.port);
  if (split === undefined || (split.port !== undefined && port === undefined)) return { host: dest, port: null };
  return { host: split.host, port: port ?? null };
}

const guard = createAddressGuard();

/** smolvm's event as a denial record, the shape `logs --egress` has on every backend. */
export function denialOf(event: SmolvmEgressEvent): DenialRecord {
  const operation = event.operation ?? "connect";
  const { host, port } = splitDestination(String(event.dest ?? ""));
  const time = isoTime(event.timestamp);
  const where = port === null ? host : formatAuthority(host, port);
  if (operation === "resolve" || isIP(host) === 0) {
    return { time, host, port, reason: "not-allowed", detail: `${where} is not on this bottle's allow-list (smolvm refused to resolve it)` };
  }
  const blocked = guard.check(host);
  if (blocked) {
    return { time, host, port, reason: "blocked-address", detail: `${where} is ${blocked.label} (${blocked.cidr}), which smolvm's floor refuses (smolvm refused ${operation})` };
  }
  return { time, host, port, reason: "ip-literal", detail: `${where} is an address no allowed name resolved to (smolvm refused ${operation})` };
}

export async function readEgressEvents(smolvm: Smolvm, name: string, signal: AbortSignal): Promise<SmolvmEgressEvent[]> {
  const args = ["machine", "egress-events", "--name", name, "--json"];
  const output = await runSmolvm(smolvm, args, { signal });
  let parsed: unknown;
  try {
    parsed = JSON.parse(output.trim() || "[]");
  } catch {
    throw smolvmFailure(smolvm, args, `Error: output is not JSON: ${output.slice(0, 200)}`, 0);
  }
  if (!Array.isArray(parsed)) throw smolvmFailure(smolvm, args, "Error: output is not a JSON array", 0);
  return parsed as SmolvmEgressEvent[];
}

const FOLLOW_POLL_MS = 1_000;

/**
 * `logs --egress`: the connections smolvm's policy refused for this machine,
 * one JSON object a line, oldest first; with `follow`, new ones as they come
 * while the machine runs. smolvm keeps the newest 200 (`--limit`).
 */
export async function machineDenials(
  smolvm: Smolvm,
  machine: { name: string; network?: boolean },
  opts: LogsOptions,
  stillRunning: () => Promise<boolean>,
  signal: AbortSignal,
): Promise<void> {
  if (machine.network === false) {
    throw new BottleError(ErrorCodes.UNSUPPORTED, `The bottle ${machine.name} has no network, so no policy ever refused it anything.`, {
      hint: "See its own output with `claude-bottle logs`.",
    });
  }
  // What was printed, by event: smolvm prints the same window again at each look.
  const printed = new Map<string, number>();
  const print = (events: readonly SmolvmEgressEvent[]) => {
    const seen = new Map<string, number>();
    for (const event of events) {
      const key = JSON.stringify([event.timestamp, event.operation, event.dest]);
      const count = (seen.get(key) ?? 0) + 1;
      seen.set(key, count);
      if (count <= (printed.get(key) ?? 0)) continue;
      printed.set(key, count);
      opts.stdio.stdout.write(formatDenial(denialOf(event)));
    }
  };
  try {
    print(await readEgressEvents(smolvm, machine.name, signal));
    while (opts.follow && (await stillRunning())) {
      await sleep(FOLLOW_POLL_MS, undefined, { signal });
      print(await readEgressEvents(smolvm, machine.name, signal));
    }
  } catch (error) {
    // Ctrl-C ends a follow: what was refused until then has been printed.
    if (!signal.aborted) throw error;
  }
}
