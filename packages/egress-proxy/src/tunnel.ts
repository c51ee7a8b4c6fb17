/**
 * Connect/tunnel: what happens to a CONNECT once policy and vetting let it through.
 * The default handler dials the vetted address and splices the two sockets. A later
 * handler can take over a CONNECT for a few named hosts (terminate TLS there to
 * inject credentials) through `connectHandler`; it gets the same vetted target and
 * the same `dial`, so it cannot reach anything the policy refuses.
 */
import type net from "node:net";
import type { Duplex } from "node:stream";
import { formatAuthority } from "@claude-bottle/core/egress-policy";
import { DialError } from "./dial.js";
import type { VettedAddress } from "./resolve.js";
import { sendRawText } from "./responses.js";

export interface ConnectTarget {
  /** Normalised host name or IP literal, as the policy saw it. */
  host: string;
  port: number;
  /** What resolve-and-vet let through; `dial` connects to the first of these that answers. */
  addresses: readonly VettedAddress[];
}

export interface ConnectContext {
  target: ConnectTarget;
  /** The client's socket; nothing has been written to it yet. */
  client: Duplex;
  /** Bytes the client sent after the CONNECT request (usually none). */
  head: Buffer;
  /** A TCP connection to a vetted address of the target; rejects with DialError. */
  dial(): Promise<net.Socket>;
  /** How long a tunnel may carry nothing either way before it is closed (ProxyLimits.tunnelIdleMs). */
  idleMs: number;
}

/** Takes over a CONNECT after it passed the policy; responsible for the client socket from then on. */
export type ConnectHandler = (ctx: ConnectContext) => void | Promise<void>;

/** The answer a client gets when the target does not answer: 504 on a timeout, else 502. */
export function dialFailure(err: unknown, host: string, port: number): { status: number; message: string } {
  const code = err instanceof DialError ? err.code : "error";
  const status = code === "ETIMEDOUT" ? 504 : 502;
  return { status, message: `could not connect to ${formatAuthority(host, port)} (${code})` };
}

/**
 * Splices two sockets; an error or close on either side ends both, and so do
 * `idleMs` without a byte either way (a tunnel nobody uses holds two sockets).
 */
export function splice(client: Duplex, upstream: Duplex, idleMs: number): void {
  // One timer for both directions: a long download with a silent client is not idle.
  const idle = setTimeout(() => destroyBoth(), idleMs);
  const busy = () => idle.refresh();
  const destroyBoth = () => {
    clearTimeout(idle);
    client.destroy();
    upstream.destroy();
  };
  client.on("data", busy);
  upstream.on("data", busy);
  client.on("error", destroyBoth);
  upstream.on("error", destroyBoth);
  client.on("close", destroyBoth);
  upstream.on("close", destroyBoth);
  client.pipe(upstream);
  upstream.pipe(client);
}

/**
 * Dials the target and answers the CONNECT: 200 once the connection is up, or 502/504
 * (then undefined). Undefined too when the client left meanwhile.
 */
export async function establish({ target, client, dial }: ConnectContext): Promise<net.Socket | undefined> {
  let upstream: net.Socket;
  try {
    upstream = await dial();
  } catch (err) {
    const { status, message } = dialFailure(err, target.host, target.port);
    sendRawText(client, status, message);
    return undefined;
  }
  if (client.destroyed) {
    upstream.destroy();
    return undefined;
  }
  client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
  return upstream;
}

/** The default: a plain TCP tunnel to the vetted address. */
export const tunnel: ConnectHandler = async (ctx) => {
  const upstream = await establish(ctx);
  if (upstream === undefined) return;
  if (ctx.head.length > 0) upstream.write(ctx.head);
  splice(ctx.client, upstream, ctx.idleMs);
};
