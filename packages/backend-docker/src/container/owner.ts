import { hostname } from "node:os";
import { isProcessAlive, Labels } from "@claude-bottle/core";

/** On what a `start` makes before it hands the bottle over: the process that made it, and its host. */
export const OwnerLabels = {
  pid: Labels.ownerPid,
  host: Labels.ownerHost,
} as const;

/**
 * A start on another host sharing the engine cannot be asked whether it
 * lives: what it made counts as left behind after this long (no start takes
 * that long to hand its bottle over).
 */
const FOREIGN_OWNER_STALE_AFTER_MS = 60 * 60 * 1000;

export function ownerLabels(): Record<string, string> {
  return { [OwnerLabels.pid]: String(process.pid), [OwnerLabels.host]: hostname() };
}

/**
 * Whether the start that made an object may still be using it: alive on this
 * host, or on another one and recent. An object without an owner is nobody's.
 */
export function ownerMayBeAlive(labels: Readonly<Record<string, string>> | undefined, createdMs: number, now = Date.now()): boolean {
  const pid = Number(labels?.[OwnerLabels.pid] ?? NaN);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (labels?.[OwnerLabels.host] === hostname()) return isProcessAlive(pid);
  return now - createdMs < FOREIGN_OWNER_STALE_AFTER_MS;
}
