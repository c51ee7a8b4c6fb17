import { hostname } from "node:os";
import { isProcessAlive } from "@claude-bottle/core";

/** On a bottle's egress proxy and network: the bottle they serve. `ls` never shows them as bottles. */
export const EGRESS_FOR_LABEL = "dev.claude-bottle.egress-for";

/**
 * On a bottle's egress proxy and network: the host and process of the start
 * that made them (`HOST:PID`). They exist before their bottle does (a policy
 * build runs through them), so a bottle not there yet is an orphan only once
 * that start is gone.
 */
export const EGRESS_OWNER_LABEL = "dev.claude-bottle.egress-owner";

/** This process, as EGRESS_OWNER_LABEL names it. */
export function egressOwner(): string {
  return `${hostname()}:${process.pid}`;
}

/** Whether the start that made an egress is still running here; one made on another host is judged by its bottle alone. */
export function ownerIsAlive(owner: string | undefined): boolean {
  const match = owner === undefined ? null : /^(.*):(\d+)$/.exec(owner);
  return match !== null && match[1] === hostname() && isProcessAlive(Number(match[2]));
}
