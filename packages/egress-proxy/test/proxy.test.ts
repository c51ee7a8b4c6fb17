import http from "node:http";
import net from "node:net";
import { once } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { tunnel, type DenialRecord } from "../src/index.js";
import {
  cleanUp,
  connectVia,
  deadPort,
  FIXED_TIME,
  httpsVia,
  raw,
  startHttpServer,
  startProxy,
  startTlsServer,
  viaProxy,
} from "./support.js";

afterEach(cleanUp);

const LOOPBACK_OK = { allowPrivate: ["127.0.0.1/32"] };
const record = (host: string, port: number, reason: DenialRecord["reason"], detail: string): DenialRecord => ({
  time: FIXED_TIME.toISOString(),
  host,
  port,
  reason,
  detail,
});

describe("allowed traffic", () => {
  it("proxies plain HTTP for an allowed name to the address it resolved", async () => {
    const web = await startHttpServer();
    const proxy = await startProxy({ mode: "allow", allow: ["allowed.test"], ...LOOPBACK_OK }, { "allowed.test": "127.0.0.1" });
    const reply = await viaProxy(proxy, `http://allowed.test:${web.port}/path?q=1`);
    expect(reply.status).toBe(200);
    expect(reply.body).toBe(`hello from allowed.test:${web.port}`);
    expect(web.seen[0]?.url).toBe("/path?q=1");
    expect(proxy.dials).toEqual([{ host: "127.0.0.1", port: web.port }]);
    expect(proxy.lookup.asked).toEqual(["allowed.test"]);
    expect(proxy.denials).toEqual([]);
  });

  it("tunnels HTTPS for an allowed name through CONNECT, end to end TLS", async () => {
    const tlsServer = await startTlsServer();
    const proxy = await startProxy({ mode: "allow", allow: ["allowed.test"], ...LOOPBACK_OK }, { "allowed.test": "127.0.0.1" });
    const reply = await httpsVia(proxy, `allowed.test:${tlsServer.port}`, "allowed.test");
    expect(reply.status).toBe(200);
    expect(reply.body).toBe(`hello from allowed.test:${tlsServer.port}`);
    expect(proxy.dials).toEqual([{ host: "127.0.0.1", port: tlsServer.port }]);
  });

  it("reaches everything in mode all, when the address is not blocked", async () => {
    const tlsServer = await startTlsServer();
    const proxy = await startProxy({ mode: "all", ...LOOPBACK_OK }, { "anything.allowed.test": "127.0.0.1" });
    const reply = await httpsVia(proxy, `anything.allowed.test:${tlsServer.port}`, "anything.allowed.test");
    expect(reply.body).toBe(`hello from anything.allowed.test:${tlsServer.port}`);
  });

  it("keeps the client's connection alive across requests", async () => {
    const web = await startHttpServer();
    const proxy = await startProxy({ mode: "allow", allow: ["allowed.test"], ...LOOPBACK_OK }, { "allowed.test": "127.0.0.1" });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await viaProxy(proxy, `http://allowed.test:${web.port}/one`, { agent });
      const second = await viaProxy(proxy, `http://allowed.test:${web.port}/two`, { agent });
      const refused = await viaProxy(proxy, `http://other.test:${web.port}/three`, { agent });
      const third = await viaProxy(proxy, `http://allowed.test:${web.port}/four`, { agent });
      expect([first.status, second.status, refused.status, third.status]).toEqual([200, 200, 403, 200]);
      expect(second.socket).toBe(first.socket);
      expect(refused.socket).toBe(first.socket);
      expect(third.socket).toBe(first.socket);
    } finally {
      agent.destroy();
    }
  });

  it("streams request and response bodies both ways", async () => {
    const web = await startHttpServer();
    const proxy = await startProxy({ mode: "allow", allow: ["allowed.test"], ...LOOPBACK_OK }, { "allowed.test": "127.0.0.1" });
    const upload = await new Promise<string>((resolve, reject) => {
      const target = `allowed.test:${web.port}`;
      const req = http.request({ host: "127.0.0.1", port: proxy.port, method: "POST", path: `http://${target}/echo`, headers: { host: target }, agent: false });
      req.on("error", reject);
      req.on("response", (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve(body));
      });
      // Chunked, written in pieces: the proxy must not need the whole body first.
      const piece = Buffer.alloc(256 * 1024, 0x62);
      for (let i = 0; i < 12; i++) req.write(piece);
      req.end();
    });
    expect(upload).toBe(`got ${12 * 256 * 1024} bytes`);
    const download = await viaProxy(proxy, `http://allowed.test:${web.port}/big?n=${5 * 1024 * 1024}`);
    expect(download.status).toBe(200);
    expect(download.body.length).toBe(5 * 1024 * 1024);
  });

  it("forwards end-to-end headers only: no hop-by-hop, no Proxy-*, nothing Connection names", async () => {
    const web = await startHttpServer();
    const proxy = await startProxy({ mode: "allow", allow: ["allowed.test"], ...LOOPBACK_OK }, { "allowed.test": "127.0.0.1" });
    const reply = await viaProxy(proxy, `http://allowed.test:${web.port}/`, {
      headers: {
        "proxy-authorization": "Basic c2VjcmV0",
        "proxy-connection": "keep-alive",
        connection: "keep-alive, x-private",
        "keep-alive": "timeout=5",
        "x-private": "per-hop",
        authorization: "Bearer end-to-end",
        "x-keep": "yes",
      },
    });
    const got = web.seen[0]?.headers ?? {};
    expect(got.host).toBe(`allowed.test:${web.port}`);
    expect(got.authorization).toBe("Bearer end-to-end");
    expect(got["x-keep"]).toBe("yes");
    for (const name of ["proxy-authorization", "proxy-connection", "keep-alive", "x-private"]) expect(got[name]).toBeUndefined();
    expect(got.connection).toBe("close");
    expect(reply.headers["x-upstream"]).toBe("yes");
    expect(reply.headers["proxy-authenticate"]).toBeUndefined();
    expect(reply.headers["x-hop"]).toBeUndefined();
  });

  it("dials only the vetted addresses, in order, by address, until one answers", async () => {
    const web = await startHttpServer();
    const dead = await deadPort();
    const proxy = await startProxy(
      { mode: "allow", allow: ["allowed.test"], allowPrivate: ["127.0.0.0/8"] },
      { "allowed.test": ["127.0.0.2", "127.0.0.1"] },
    );
    const reply = await viaProxy(proxy, `http://allowed.test:${web.port}/`);
    expect(reply.status).toBe(200);
    expect(proxy.dials).toEqual([
      { host: "127.0.0.2", port: web.port },
      { host: "127.0.0.1", port: web.port },
    ]);
    // Nothing answers at all: 502 saying so, and it is not a policy denial.
    const down = await viaProxy(proxy, `http://allowed.test:${dead}/`);
    expect(down.status).toBe(502);
    expect(down.body).toBe(`claude-bottle egress: could not connect to allowed.test:${dead} (ECONNREFUSED)\n`);
    const tunnelDown = await connectVia(proxy, `allowed.test:${dead}`);
    expect(tunnelDown.status).toBe(502);
    expect(proxy.denials).toEqual([]);
  });

  it("reuses a name's addresses for dnsCacheMs, shares a lookup in flight, and never keeps a failure", async () => {
    const web = await startHttpServer();
    const table = { "allowed.test": "127.0.0.1" } as Record<string, string>;
    const proxy = await startProxy({ mode: "all", ...LOOPBACK_OK }, table, { dnsCacheMs: 200 });
    const url = `http://allowed.test:${web.port}/`;
    const replies = await Promise.all([viaProxy(proxy, url), viaProxy(proxy, url)]);
    await viaProxy(proxy, url);
    expect(replies.map((r) => r.status)).toEqual([200, 200]);
    expect(proxy.lookup.asked).toEqual(["allowed.test"]);
    // Kept answers are vetted on every use; a new answer after expiry is vetted like any.
    table["allowed.test"] = "10.0.0.5";
    await new Promise((r) => setTimeout(r, 250));
    expect((await viaProxy(proxy, url)).status).toBe(403);
    expect(proxy.lookup.asked).toEqual(["allowed.test", "allowed.test"]);
    expect((await viaProxy(proxy, "http://nosuch.test/")).status).toBe(502);
    expect((await viaProxy(proxy, "http://nosuch.test/")).status).toBe(502);
    expect(proxy.lookup.asked.filter((n) => n === "nosuch.test")).toHaveLength(2);
  });

  it("looks a name up on every request with dnsCacheMs 0", async () => {
    const web = await startHttpServer();
    const proxy = await startProxy({ mode: "all", ...LOOPBACK_OK }, { "allowed.test": "127.0.0.1" }, { dnsCacheMs: 0 });
    await viaProxy(proxy, `http://allowed.test:${web.port}/`);
    await viaProxy(proxy, `http://allowed.test:${web.port}/`);
    expect(proxy.lookup.asked).toEqual(["allowed.test", "allowed.test"]);
  });

  it("allows a listed IP literal whose range allowPrivate lifts", async () => {
    const tlsServer = await startTlsServer();
    const proxy = await startProxy({ mode: "allow", allow: ["127.0.0.1"], ...LOOPBACK_OK });
    const reply = await httpsVia(proxy, `127.0.0.1:${tlsServer.port}`, "localhost");
    expect(reply.status).toBe(200);
    expect(proxy.lookup.asked).toEqual([]);
  });
});

describe("refusals: a 403 that names the policy, one record, no dial", () => {
  it("refuses a name off the allow-list over HTTP and CONNECT, before resolving it", async () => {
    const proxy = await startProxy({ mode: "allow", allow: ["allowed.test"] }, { "other.test": "127.0.0.1" });
    const plain = await viaProxy(proxy, "http://Other.Test./x");
    expect(plain.status).toBe(403);
    expect(plain.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(plain.body).toBe("claude-bottle egress: other.test:80 is not on this bottle's allow-list (policy: allow)\n");
    const connect = await connectVia(proxy, "other.test:443");
    expect(connect.status).toBe(403);
    expect(connect.body).toBe("claude-bottle egress: other.test:443 is not on this bottle's allow-list (policy: allow)\n");
    expect(proxy.denials).toEqual([
      record("other.test", 80, "not-allowed", "other.test:80 is not on this bottle's allow-list (policy: allow)"),
      record("other.test", 443, "not-allowed", "other.test:443 is not on this bottle's allow-list (policy: allow)"),
    ]);
    expect(proxy.lookup.asked).toEqual([]);
    expect(proxy.dials).toEqual([]);
  });

  it("lets deny win over allow", async () => {
    const proxy = await startProxy({ mode: "allow", allow: ["*.allowed.test"], deny: ["secret.allowed.test"], ...LOOPBACK_OK }, {
      "secret.allowed.test": "127.0.0.1",
    });
    const reply = await connectVia(proxy, "secret.allowed.test:443");
    expect(reply.status).toBe(403);
    expect(reply.body).toContain("secret.allowed.test:443 is on this bottle's deny-list");
    expect(proxy.denials.map((d) => d.reason)).toEqual(["denied"]);
    expect(proxy.dials).toEqual([]);
  });

  it("matches *.domain on subdomains, not on the apex", async () => {
    const tlsServer = await startTlsServer();
    const proxy = await startProxy({ mode: "allow", allow: ["*.wild.test"], ...LOOPBACK_OK }, { "sub.wild.test": "127.0.0.1", "wild.test": "127.0.0.1" });
    const sub = await httpsVia(proxy, `sub.wild.test:${tlsServer.port}`, "sub.wild.test");
    expect(sub.status).toBe(200);
    const apex = await connectVia(proxy, `wild.test:${tlsServer.port}`);
    expect(apex.status).toBe(403);
    expect(proxy.denials.map((d) => [d.host, d.reason])).toEqual([["wild.test", "not-allowed"]]);
  });

  it("holds an entry with a port to that port", async () => {
    const tlsServer = await startTlsServer();
    const other = await startTlsServer();
    const proxy = await startProxy({ mode: "allow", allow: [`ported.test:${tlsServer.port}`], ...LOOPBACK_OK }, { "ported.test": "127.0.0.1" });
    expect((await httpsVia(proxy, `ported.test:${tlsServer.port}`, "ported.test")).status).toBe(200);
    const refused = await connectVia(proxy, `ported.test:${other.port}`);
    expect(refused.status).toBe(403);
    expect(proxy.denials).toEqual([
      record("ported.test", other.port, "not-allowed", `ported.test:${other.port} is not on this bottle's allow-list (policy: allow)`),
    ]);
    expect(other.seen).toEqual([]);
  });

  it("refuses IP literals under an allow-list, in every spelling", async () => {
    const tlsServer = await startTlsServer();
    const proxy = await startProxy({ mode: "allow", allow: ["allowed.test"], ...LOOPBACK_OK });
    for (const target of [`127.0.0.1:${tlsServer.port}`, `[::ffff:127.0.0.1]:${tlsServer.port}`, `2130706433:${tlsServer.port}`, "203.0.113.7:443"]) {
      const reply = await connectVia(proxy, target);
      expect(reply.status, target).toBe(403);
    }
    const plain = await viaProxy(proxy, "http://203.0.113.7/");
    expect(plain.body).toBe("claude-bottle egress: 203.0.113.7:80 is an IP address that is not on this bottle's allow-list (policy: allow)\n");
    expect(proxy.denials.map((d) => [d.host, d.reason])).toEqual([
      ["127.0.0.1", "ip-literal"],
      ["::ffff:7f00:1", "ip-literal"],
      ["127.0.0.1", "ip-literal"],
      ["203.0.113.7", "ip-literal"],
      ["203.0.113.7", "ip-literal"],
    ]);
    expect(proxy.dials).toEqual([]);
  });

  it("refuses the metadata address even in mode all, as a literal and behind a name", async () => {
    const proxy = await startProxy({ mode: "all" }, { "metadata.test": "169.254.169.254", "nat64.test": "64:ff9b::a9fe:a9fe" });
    const literal = await viaProxy(proxy, "http://169.254.169.254/latest/meta-data/");
    expect(literal.status).toBe(403);
    expect(literal.body).toBe(
      "claude-bottle egress: 169.254.169.254:80 is a link-local address (cloud metadata) in 169.254.0.0/16 (policy: all)\n",
    );
    expect((await connectVia(proxy, "169.254.169.254:443")).status).toBe(403);
    expect((await connectVia(proxy, "[::ffff:169.254.169.254]:80")).status).toBe(403);
    const named = await viaProxy(proxy, "http://metadata.test/");
    expect(named.body).toBe(
      "claude-bottle egress: metadata.test:80 resolves to 169.254.169.254, a link-local address (cloud metadata) in 169.254.0.0/16 (policy: all)\n",
    );
    expect((await connectVia(proxy, "nat64.test:443")).status).toBe(403);
    expect(proxy.denials.map((d) => d.reason)).toEqual(Array(5).fill("blocked-address"));
    expect(proxy.dials).toEqual([]);
  });

  it("refuses a name that resolves to a private, loopback or mapped-loopback address (DNS rebinding)", async () => {
    const web = await startHttpServer();
    const proxy = await startProxy(
      { mode: "allow", allow: ["*.rebind.test"], allowPrivate: ["127.0.0.1/32"] },
      {
        "ten.rebind.test": "10.0.0.5",
        "lo.rebind.test": "127.0.0.2",
        "mapped.rebind.test": "::ffff:127.0.0.2",
        "v6.rebind.test": "::1",
        "ula.rebind.test": "fd00::5",
        "mixed.rebind.test": ["127.0.0.1", "192.168.1.10"],
      },
    );
    const expected: [string, string][] = [
      ["ten.rebind.test", "resolves to 10.0.0.5, a private address in 10.0.0.0/8"],
      ["lo.rebind.test", "resolves to 127.0.0.2, a loopback address in 127.0.0.0/8"],
      ["mapped.rebind.test", "resolves to ::ffff:127.0.0.2, a loopback address in 127.0.0.0/8"],
      ["v6.rebind.test", "resolves to ::1, a loopback address in ::1/128"],
      ["ula.rebind.test", "resolves to fd00::5, a private address (unique local) in fc00::/7"],
      ["mixed.rebind.test", "resolves to 192.168.1.10, a private address in 192.168.0.0/16"],
    ];
    for (const [name, why] of expected) {
      const reply = await viaProxy(proxy, `http://${name}:${web.port}/`);
      expect(reply.status, name).toBe(403);
      expect(reply.body).toBe(`claude-bottle egress: ${name}:${web.port} ${why} (policy: allow)\n`);
    }
    expect(proxy.denials.map((d) => d.reason)).toEqual(Array(expected.length).fill("blocked-address"));
    expect(proxy.dials).toEqual([]);
    expect(web.seen).toEqual([]);
  });

  it("refuses addresses in blockCidrs even when allowPrivate names them", async () => {
    const web = await startHttpServer();
    const proxy = await startProxy({ mode: "all", allowPrivate: ["127.0.0.0/8"], blockCidrs: ["127.0.0.1/32"] }, { "gateway.test": "127.0.0.1" });
    const reply = await viaProxy(proxy, `http://gateway.test:${web.port}/`);
    expect(reply.status).toBe(403);
    expect(reply.body).toContain("resolves to 127.0.0.1, a blocked address in 127.0.0.1/32 (policy: all)");
    expect(proxy.dials).toEqual([]);
  });

  it("answers 502 for a name that does not resolve, and records it", async () => {
    const proxy = await startProxy({ mode: "allow", allow: ["*.test"] });
    const plain = await viaProxy(proxy, "http://nosuch.test/");
    expect(plain.status).toBe(502);
    expect(plain.body).toBe("claude-bottle egress: nosuch.test:80 could not be resolved (ENOTFOUND) (policy: allow)\n");
    const connect = await connectVia(proxy, "nosuch.test:443");
    expect(connect.status).toBe(502);
    expect(proxy.denials).toEqual([
      record("nosuch.test", 80, "resolve-failed", "nosuch.test:80 could not be resolved (ENOTFOUND) (policy: allow)"),
      record("nosuch.test", 443, "resolve-failed", "nosuch.test:443 could not be resolved (ENOTFOUND) (policy: allow)"),
    ]);
  });

  it("answers a refused CONNECT before any tunnel, and closes the connection", async () => {
    const proxy = await startProxy({ mode: "allow", allow: ["allowed.test"] });
    const text = await raw(proxy, "CONNECT other.test:443 HTTP/1.1\r\nHost: other.test:443\r\n\r\n\x16\x03\x01");
    expect(text).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(text).toContain("Connection: close\r\n");
    expect(text).not.toContain("200 Connection Established");
    expect(text.endsWith("claude-bottle egress: other.test:443 is not on this bottle's allow-list (policy: allow)\n")).toBe(true);
  });

  it("records the target and reason only, never headers", async () => {
    const proxy = await startProxy({ mode: "allow", allow: [] });
    await viaProxy(proxy, "http://other.test/", { headers: { authorization: "Bearer sekrit", "proxy-authorization": "Basic sekrit", cookie: "s=sekrit" } });
    expect(proxy.denials).toHaveLength(1);
    expect(Object.keys(proxy.denials[0] ?? {})).toEqual(["time", "host", "port", "reason", "detail"]);
    expect(JSON.stringify(proxy.denials)).not.toContain("sekrit");
  });
});

describe("malformed requests", () => {
  it.each([
    ["an origin-form request", "GET /path HTTP/1.1\r\nHost: allowed.test\r\n\r\n", /"GET \/path" is not a proxy request/],
    ["https in absolute form", "GET https://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n", /https: URLs are not proxied here; for https use CONNECT/],
    ["another scheme", "GET ftp://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n", /ftp: URLs are not proxied here/],
    ["CONNECT without a port", "CONNECT allowed.test HTTP/1.1\r\nHost: allowed.test\r\n\r\n", /"CONNECT allowed.test" needs a host and a port/],
    ["CONNECT to a bad host", "CONNECT bad_host!:443 HTTP/1.1\r\n\r\n", /needs a host and a port/],
    ["CONNECT to a bad port", "CONNECT allowed.test:99999 HTTP/1.1\r\n\r\n", /needs a host and a port/],
    ["OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", /is not a proxy request/],
    ["an unknown method", "BREW http://allowed.test/ HTTP/1.1\r\n\r\n", /could not be parsed/],
    ["not HTTP at all", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", /could not be parsed/],
  ])("answers 400 to %s", async (_what, bytes, message) => {
    const proxy = await startProxy({ mode: "allow", allow: ["allowed.test"] }, { "allowed.test": "127.0.0.1" });
    const text = await raw(proxy, bytes, /\n$/);
    expect(text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(text).toMatch(message);
    expect(proxy.dials).toEqual([]);
    // Recorded too: `logs --egress` shows what a bottle tried, not only what the policy refused.
    expect(proxy.denials).toEqual([expect.objectContaining({ host: "", port: null, reason: "bad-request" })]);
  });
});

describe("sockets and lifetime", () => {
  it("ends the upstream side when the client goes away mid-tunnel", async () => {
    const tlsServer = await startTlsServer();
    const proxy = await startProxy({ mode: "allow", allow: ["allowed.test"], ...LOOPBACK_OK }, { "allowed.test": "127.0.0.1" });
    const tunnelReply = await connectVia(proxy, `allowed.test:${tlsServer.port}`);
    expect(tunnelReply.status).toBe(200);
    await vi.waitFor(() => expect(tlsServer.open.size).toBe(1));
    const [upstream] = tlsServer.open;
    tunnelReply.socket.destroy();
    await once(upstream!, "close");
    expect(tlsServer.open.size).toBe(0);
  });

  it("close() ends open tunnels and stops listening; asyncDispose is close", async () => {
    const tlsServer = await startTlsServer();
    const proxy = await startProxy({ mode: "allow", allow: ["allowed.test"], ...LOOPBACK_OK }, { "allowed.test": "127.0.0.1" });
    expect(proxy[Symbol.asyncDispose]).toBe(proxy.close);
    const open = await connectVia(proxy, `allowed.test:${tlsServer.port}`);
    const closed = once(open.socket, "close");
    await proxy.close();
    await closed;
    await vi.waitFor(() => expect(tlsServer.open.size).toBe(0));
    const refused = await new Promise<string>((resolve) => {
      const socket = net.connect(proxy.port, "127.0.0.1");
      socket.on("connect", () => resolve("connected"));
      socket.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? ""));
    });
    expect(refused).toBe("ECONNREFUSED");
  });

  it("survives a denial sink that throws, and reports the error", async () => {
    const errors: unknown[] = [];
    const proxy = await startProxy({ mode: "allow", allow: [] }, {}, {
      onDenial: () => {
        throw new Error("disk full");
      },
      onError: (err) => errors.push(err),
    });
    expect((await viaProxy(proxy, "http://other.test/")).status).toBe(403);
    expect((await viaProxy(proxy, "http://other.test/")).status).toBe(403);
    expect(errors.map(String)).toEqual(["Error: disk full", "Error: disk full"]);
  });
});

describe("the seam for per-host CONNECT handlers", () => {
  it("hands a CONNECT that passed policy and vetting to the handler, with a dial to the vetted address", async () => {
    const tlsServer = await startTlsServer();
    const consulted: string[] = [];
    const proxy = await startProxy(
      { mode: "allow", allow: ["allowed.test", "intercept.allowed.test"], ...LOOPBACK_OK },
      { "allowed.test": "127.0.0.1", "intercept.allowed.test": "127.0.0.1" },
      {
        connectHandler: (target) => {
          consulted.push(target.host);
          if (target.host !== "intercept.allowed.test") return undefined;
          return async (ctx) => {
            expect(ctx.target.addresses).toEqual([{ address: "127.0.0.1", family: 4 }]);
            // A real handler would terminate TLS here; this one just proves it owns the socket, then tunnels.
            ctx.client.write("HTTP/1.1 200 Connection Established\r\nX-Handled-By: test\r\n\r\n");
            const upstream = await ctx.dial();
            ctx.client.pipe(upstream).pipe(ctx.client);
          };
        },
      },
    );
    const intercepted = await connectVia(proxy, `intercept.allowed.test:${tlsServer.port}`);
    expect(intercepted.headers["x-handled-by"]).toBe("test");
    intercepted.socket.destroy();
    expect((await httpsVia(proxy, `allowed.test:${tlsServer.port}`, "allowed.test")).status).toBe(200);
    expect((await connectVia(proxy, "refused.test:443")).status).toBe(403);
    expect(consulted).toEqual(["intercept.allowed.test", "allowed.test"]);
    expect(typeof tunnel).toBe("function");
  });
});
