/**
 * Dialling: a TCP connection to one of the addresses that were vetted, tried in the
 * order the resolver gave them, by IP address, so nothing resolves the name again.
 */
import net from "node:net";
import type { VettedAddress } from "./resolve.js";

/** Opens a TCP connection to an IP address; inject one to watch what the proxy dials. */
export type ConnectFunction = (options: { host: string; port: number; family: 4 | 6 }) => net.Socket;

export const defaultConnect: ConnectFunction = ({ host, port, family }) =>
  net.connect({ host, port, family, noDelay: true, autoSelectFamily: false, allowHalfOpen: true });

export class DialError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "DialError";
  }
}

/** While another address is left to try, give up on one sooner than on the last. */
const NEXT_ADDRESS_AFTER_MS = 2500;

function dialOne(connect: ConnectFunction, target: VettedAddress, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.address, port, family: target.family });
    const fail = (code: string) => {
      cleanup();
      socket.destroy();
      reject(new DialError(`${code} connecting to ${target.address}:${port}`, code));
    };
    const onError = (err: NodeJS.ErrnoException) => fail(err.code ?? "ECONNFAILED");
    const onTimeout = () => fail("ETIMEDOUT");
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const timer = setTimeout(onTimeout, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("error", onError);
      socket.off("connect", onConnect);
    };
    socket.once("error", onError);
    socket.once("connect", onConnect);
  });
}

/**
 * Connects to the first vetted address that answers. Rejects with the last
 * DialError when none does, or when `signal` aborts (the client went away).
 */
export async function dialVetted(
  addresses: readonly VettedAddress[],
  port: number,
  options: { connect: ConnectFunction; timeoutMs: number; signal?: AbortSignal },
): Promise<net.Socket> {
  let last: unknown;
  for (const [i, target] of addresses.entries()) {
    if (options.signal?.aborted) throw new DialError("the client went away", "ECANCELED");
    const timeout = i < addresses.length - 1 ? Math.min(options.timeoutMs, NEXT_ADDRESS_AFTER_MS) : options.timeoutMs;
    try {
      const socket = await dialOne(options.connect, target, port, timeout);
      if (options.signal?.aborted) {
        socket.destroy();
        throw new DialError("the client went away", "ECANCELED");
      }
      return socket;
    } catch (err) {
      if (err instanceof DialError && err.code === "ECANCELED") throw err;
      last = err;
    }
  }
  throw last ?? new DialError("no address to dial", "ENOADDRESS");
}
