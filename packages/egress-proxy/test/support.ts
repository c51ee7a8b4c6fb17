/**
 * Test support. Everything stays on this machine: servers listen on 127.0.0.1, names
 * resolve through a table the test owns, and the dial spy refuses (throws before any
 * socket exists) to connect anywhere but loopback, so no packet can leave even when
 * the proxy has a bug.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import type dns from "node:dns";
import { createEgressProxy, type DenialRecord, type EgressPolicy, type EgressProxy, type EgressProxyOptions, type LookupFunction } from "../src/index.js";

export const fixtures = new URL("./fixtures/", import.meta.url);
export const cert = readFileSync(new URL("cert.pem", fixtures), "utf8");
export const key = readFileSync(new URL("key.pem", fixtures), "utf8");

const cleanups: (() => Promise<unknown> | void)[] = [];
/** Runs (newest first) what the tests registered; call from afterEach. */
export async function cleanUp(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}

export interface TestServer {
  port: number;
  /** Requests seen: method, url and headers as the server got them. */
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: number }[];
  /** Connections that are open now. */
  open: Set<net.Socket>;
}

function track(server: net.Server, open: Set<net.Socket>): void {
  server.on("connection", (socket: net.Socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
  });
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as http.Server).closeAllConnections?.();
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

/**
 * A loopback HTTP server. `GET /big?n=BYTES` answers n bytes; `POST /echo` answers the
 * length of the body it got; anything else answers "hello from <host header>".
 */
export function handler(seen: TestServer["seen"]): http.RequestListener {
  return (req, res) => {
    let body = 0;
    req.on("data", (chunk: Buffer) => (body += chunk.length));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      const url = new URL(req.url ?? "/", "http://x");
      if (url.pathname === "/big") {
        const n = Number(url.searchParams.get("n"));
        res.writeHead(200, { "content-type": "application/octet-stream" });
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        let left = n;
        const pump = () => {
          while (left > 0) {
            const part = chunk.subarray(0, Math.min(left, chunk.length));
            left -= part.length;
            if (!res.write(part)) return res.once("drain", pump);
          }
          res.end();
        };
        pump();
        return;
      }
      res.setHeader("x-upstream", "yes");
      res.setHeader("proxy-authenticate", "Basic realm=upstream");
      res.setHeader("connection", "keep-alive, x-hop");
      res.setHeader("x-hop", "dropped");
      res.end(url.pathname === "/echo" ? `got ${body} bytes` : `hello from ${req.headers.host}`);
    });
  };
}

export async function startHttpServer(): Promise<TestServer> {
  const seen: TestServer["seen"] = [];
  const open = new Set<net.Socket>();
  const server = http.createServer(handler(seen));
  track(server, open);
  return { port: await listen(server), seen, open };
}

/**
 * A loopback TLS server (the test certificate) with `handler`'s answers (or `routes`',
 * for a request it takes: it returns true). `received()` is what reached the server:
 * each request's line and headers once parsed, and its body bytes as they come, for
 * "never reached the server" checks that a half-sent request would not show in `seen`.
 */
export async function startTlsServer(
  routes?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean,
): Promise<TestServer & { received: () => string; connections: () => number }> {
  const seen: TestServer["seen"] = [];
  const open = new Set<net.Socket>();
  const bytes: Buffer[] = [];
  let connections = 0;
  const fallback = handler(seen);
  const app = http.createServer((req, res) => {
    bytes.push(Buffer.from(`${req.method} ${req.url} HTTP/${req.httpVersion}\r\n${req.rawHeaders.join("\r\n")}\r\n\r\n`, "latin1"));
    req.on("data", (c: Buffer) => bytes.push(c));
    if (!routes?.(req, res)) fallback(req, res);
  });
  const server = tls.createServer({ cert, key }, (socket) => {
    connections++;
    app.emit("connection", socket);
  });
  track(server, open);
  return {
    port: await listen(server),
    seen,
    open,
    received: () => Buffer.concat(bytes).toString("latin1"),
    connections: () => connections,
  };
}

/** A port with nothing listening on it (bound, then closed). */
export async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

type Answer = string | string[] | NodeJS.ErrnoException;

/** A lookup over a table; records every name it was asked for. Unknown names fail as ENOTFOUND. */
export function tableLookup(table: Record<string, Answer>): LookupFunction & { asked: string[] } {
  const asked: string[] = [];
  const lookup = (hostname: string, _options: dns.LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, a: dns.LookupAddress[]) => void) => {
    asked.push(hostname);
    const answer = table[hostname] ?? Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    setImmediate(() => {
      if (answer instanceof Error) return callback(answer, []);
      const list = Array.isArray(answer) ? answer : [answer];
      callback(
        null,
        list.map((address) => ({ address, family: net.isIP(address) })),
      );
    });
  };
  return Object.assign(lookup, { asked });
}

export interface TestProxy extends EgressProxy {
  port: number;
  denials: DenialRecord[];
  /** Every dial the proxy made: host is always an IP address. */
  dials: { host: string; port: number }[];
  lookup: ReturnType<typeof tableLookup>;
}

export const FIXED_TIME = new Date("2026-01-02T03:04:05.678Z");

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/**
 * A proxy on 127.0.0.1 with a table lookup, a fixed clock, an in-memory sink, and a
 * dial spy that throws for anything but loopback (the test then fails on the dial).
 */
export async function startProxy(
  policy: EgressPolicy,
  table: Record<string, Answer> = {},
  extra: Partial<EgressProxyOptions> = {},
): Promise<TestProxy> {
  const denials: DenialRecord[] = [];
  const dials: TestProxy["dials"] = [];
  const lookup = tableLookup(table);
  const proxy = await createEgressProxy({
    policy,
    lookup,
    now: () => FIXED_TIME,
    onDenial: (record) => denials.push(record),
    connect: ({ host, port, family }) => {
      dials.push({ host, port });
      if (net.isIP(host) === 0 || !LOOPBACK.check(host, net.isIP(host) === 4 ? "ipv4" : "ipv6")) {
        throw new Error(`test dial refused: ${host}:${port} is not on this machine`);
      }
      return net.connect({ host, port, family });
    },
    ...extra,
  });
  cleanups.push(() => proxy.close());
  return Object.assign(proxy, { port: proxy.address.port, denials, dials, lookup });
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A plain-HTTP request through the proxy in absolute form, as curl -x sends it. */
export function viaProxy(
  proxy: { port: number },
  url: string,
  options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | string; agent?: http.Agent } = {},
): Promise<Reply & { socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: "127.0.0.1",
      port: proxy.port,
      method: options.method ?? "GET",
      path: url,
      headers: { host: new URL(url).host, ...options.headers },
      agent: options.agent ?? false,
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), socket: req.socket as net.Socket }),
      );
      res.on("error", reject);
    });
    req.end(options.body);
  });
}

/** Sends raw bytes to the proxy and reads until it closes the connection (or `until` matches). */
export function raw(proxy: { port: number }, bytes: string, until?: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxy.port, "127.0.0.1");
    let text = "";
    socket.on("data", (c: Buffer) => {
      text += c.toString("latin1");
      if (until?.test(text)) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
    socket.write(bytes);
  });
}

/** Sends CONNECT; resolves with the proxy's answer and, on 200, the tunnel socket. */
export function connectVia(proxy: { port: number }, authority: string): Promise<Reply & { socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    // Host names the target, as curl, Go and Python send it (Node's default would name the proxy).
    const req = http.request({ host: "127.0.0.1", port: proxy.port, method: "CONNECT", path: authority, headers: { host: authority }, agent: false });
    req.on("error", reject);
    req.on("connect", (res, socket, head: Buffer) => {
      if (res.statusCode === 200) {
        resolve({ status: 200, headers: res.headers, body: "", socket });
        return;
      }
      // Node hands over the socket on any answer to CONNECT; the body follows the head.
      const length = Number(res.headers["content-length"] ?? 0);
      let body = head.toString();
      socket.on("data", (c: Buffer) => (body += c.toString()));
      socket.on("close", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body.slice(0, length), socket }));
    });
    req.end();
  });
}

/** HTTPS through a CONNECT tunnel, verified against the test certificate. */
export async function httpsVia(proxy: { port: number }, authority: string, servername: string, path = "/"): Promise<Reply> {
  const tunnel = await connectVia(proxy, authority);
  if (tunnel.status !== 200) return tunnel;
  return new Promise((resolve, reject) => {
    const req = http.request({
      method: "GET",
      path,
      headers: { host: authority },
      createConnection: () => tls.connect({ socket: tunnel.socket, servername, ca: cert }),
    });
    req.on("error", reject);
    req.on("response", (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.end();
  });
}

/**
 * An https.Agent whose connections are CONNECT tunnels through the proxy, as a bottle's
 * client makes them with HTTPS_PROXY; `ca` is what that client trusts.
 */
export class TunnelAgent extends https.Agent {
  constructor(
    private readonly proxyPort: number,
    options: https.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(options: tls.ConnectionOptions & { host?: string; port?: number }, callback?: (err: Error | null, s: net.Socket) => void): undefined {
    const target = `${options.host}:${options.port}`;
    const req = http.request({ host: "127.0.0.1", port: this.proxyPort, method: "CONNECT", path: target, headers: { host: target }, agent: false });
    req.once("error", (err) => callback?.(err, undefined as unknown as net.Socket));
    req.once("connect", (res, socket: net.Socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        callback?.(Object.assign(new Error(`the proxy answered ${res.statusCode}`), { status: res.statusCode }), socket);
        return;
      }
      callback?.(null, tls.connect({ ...options, socket }));
    });
    req.end();
    return undefined;
  }
}

/** One HTTPS request with `agent` (a TunnelAgent); the body is written in the pieces given. */
export function httpsRequest(
  agent: https.Agent,
  url: string,
  options: {
    method?: string;
    headers?: http.OutgoingHttpHeaders;
    body?: (Buffer | string)[];
    onData?: (chunk: string) => void;
    /** ALPN protocols the client offers. */
    alpn?: string[];
    /** SNI and the name the certificate is checked against, when not the URL's. */
    servername?: string;
  } = {},
): Promise<Reply & { alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method: options.method ?? "GET",
      headers: options.headers,
      agent,
      ...(options.alpn && { ALPNProtocols: options.alpn }),
      ...(options.servername && { servername: options.servername }),
    });
    req.on("error", reject);
    req.on("response", (res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c.toString();
        options.onData?.(c.toString());
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, alpn: (req.socket as tls.TLSSocket).alpnProtocol ?? null }));
      res.on("error", reject);
    });
    const pieces = options.body ?? [];
    const write = (i: number) => {
      if (i >= pieces.length) return req.end();
      req.write(pieces[i]!, () => setImmediate(() => write(i + 1)));
    };
    write(0);
  });
}
