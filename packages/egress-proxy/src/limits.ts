/**
 * The proxy's limits under load and against slow or hostile clients. A bottle is one
 * client (the proxy serves one bottle's network), so these bound what one agent can
 * make the proxy hold: its memory, its sockets and its file descriptors.
 */
import type { Duplex } from "node:stream";

export interface ProxyLimits {
  /** The request line and headers together, in bytes; more is a 431. Default 16 KiB. */
  maxHeaderBytes: number;
  /** From a connection's first byte (or the end of its last request) to its headers' end; slower is a 408. Default 10 s. */
  headersTimeoutMs: number;
  /** Connections one client address may hold open at once; the next is answered 429 and closed. Default 512. */
  maxConnectionsPerClient: number;
  /** A CONNECT tunnel with no byte either way for this long is closed. Default 10 minutes. */
  tunnelIdleMs: number;
}

export const DEFAULT_LIMITS: Readonly<ProxyLimits> = {
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 10_000,
  maxConnectionsPerClient: 512,
  tunnelIdleMs: 10 * 60_000,
};

/** The defaults with what the caller set; a limit that is not a positive integer is a RangeError naming it. */
export function resolveLimits(given: Partial<ProxyLimits> = {}): ProxyLimits {
  const limits = { ...DEFAULT_LIMITS, ...given };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`limits.${name} must be a positive whole number, not ${String(value)}`);
  }
  return limits;
}

/**
 * Counts open connections by client address. `admit` says whether one more fits;
 * an admitted socket is counted until it closes.
 */
export function connectionCounter(max: number): { admit(socket: Duplex, client: string): boolean; open(client: string): number } {
  const counts = new Map<string, number>();
  return {
    admit(socket, client) {
      const now = counts.get(client) ?? 0;
      if (now >= max) return false;
      counts.set(client, now + 1);
      socket.once("close", () => {
        const left = (counts.get(client) ?? 1) - 1;
        if (left === 0) counts.delete(client);
        else counts.set(client, left);
      });
      return true;
    },
    open: (client) => counts.get(client) ?? 0,
  };
}
