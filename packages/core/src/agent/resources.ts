import { totalmem } from "node:os";
import type { Resources } from "./model.js";

/** Processes a bottle may have at once unless its agent file says otherwise: plenty for builds, too few for a fork bomb. */
export const DEFAULT_PIDS_LIMIT = 4096;

const MIB = 2 ** 20;
const GIB = 2 ** 30;

/**
 * Memory a bottle may use unless its agent file says otherwise: half of the
 * host's memory, at most 8 GiB and at least 512 MiB, so a runaway build is
 * stopped inside the bottle before the host starts swapping.
 */
export function defaultMemoryLimit(hostMemory: number = totalmem()): number {
  const half = Math.floor(hostMemory / 2 / MIB) * MIB;
  return Math.min(8 * GIB, Math.max(512 * MIB, half));
}

/** The limits a bottle runs with: the agent's own, else the defaults. Every backend applies these. */
export function effectiveResources(resources: Resources, hostMemory?: number): Resources & { memory: number; pids: number } {
  return {
    ...resources,
    memory: resources.memory ?? defaultMemoryLimit(hostMemory),
    pids: resources.pids ?? DEFAULT_PIDS_LIMIT,
  };
}
