/**
 * Requests built to confuse the proxy or what is behind it: oversized or slow headers,
 * a CONNECT target that is not host:port, a Host header that names another host than
 * the target, a body framed two ways. Each is answered with the rule it broke, recorded,
 * and never reaches the (allowed, listening) server behind the proxy.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createEgressProxy } from "../src/index.js";
import { slowClient } from "./load-support.js";
import { cleanUp, raw, startHttpServer, startProxy, startTlsServer, type TestServer } from "./support.js";

afterEach(cleanUp);

const LOOPBACK_OK = { allowPrivate: ["127.0.0.1/32"] };

async function setUp(limits = {}) {
  const web = await startHttpServer();
  const proxy = await startProxy(
    { mode: "allow", allow: ["allowed.test", "other.test"], deny: ["denied.test"], ...LOOPBACK_OK },
    { "allowed.test": "127.0.0.1", "other.test": "127.0.0.1", "denied.test": "127.0.0.1" },
    { limits },
  );
  return { web, proxy };
}

/** Nothing reached the server: no dial, no request, no connection. */
function untouched(proxy: { dials: unknown[] }, server: TestServer) {
  expect(proxy.dials).toEqual([]);
  expect(server.seen).toEqual([]);
  expect(server.open.size).toBe(0);
}

describe("request smuggling", () => {
  const body = "0\r\n\r\nGET http://denied.test/ HTTP/1.1\r\nHost: denied.test\r\n\r\n";
  it.each([
    ["Content-Length and Transfer-Encoding", `Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n`, body],
    ["Transfer-Encoding and Content-Length (the other order)", `Transfer-Encoding: chunked\r\nContent-Length: 4\r\n`, body],
    ["two Content-Lengths", "Content-Length: 3\r\nContent-Length: 40\r\n", "abc"],
    ["two equal Content-Lengths", "Content-Length: 3\r\nContent-Length: 3\r\n", "abc"],
    ["a Transfer-Encoding other than chunked", "Transfer-Encoding: gzip\r\n", "abc"],
    ["an obfuscated Transfer-Encoding", "Transfer-Encoding: xchunked\r\n", "0\r\n\r\n"],
    ["chunked, then another coding", "Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n"],
    ["two Transfer-Encodings", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"],
  ])("refuses %s with a 400 naming the rule, and sends nothing", async (_what, framing, payload) => {
    const { web, proxy } = await setUp();
    const where = `allowed.test:${web.port}`;
    const text = await raw(proxy, `POST http://${where}/echo HTTP/1.1\r\nHost: ${where}\r\n${framing}\r\n${payload}`, /\n$/);
    expect(text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(text).toContain("(rule: request-smuggling)");
    expect(text).toMatch(/Connection: close/i);
    expect(proxy.denials).toEqual([expect.objectContaining({ reason: "smuggling" })]);
    expect(proxy.denials[0]?.detail).toContain("rule: request-smuggling");
    untouched(proxy, web);
  });
});

describe("a Host header that names another host than the target", () => {
  it.each([
    ["another host", (p: number) => `GET http://allowed.test:${p}/ HTTP/1.1\r\nHost: other.test:${p}\r\n\r\n`],
    ["the same host on another port", (p: number) => `GET http://allowed.test:${p}/ HTTP/1.1\r\nHost: allowed.test:${p + 1}\r\n\r\n`],
    ["a default port the URL does not use", (p: number) => `GET http://allowed.test:${p}/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n`],
    ["an allowed Host over a denied URL", (p: number) => `GET http://denied.test:${p}/ HTTP/1.1\r\nHost: allowed.test:${p}\r\n\r\n`],
    ["two Host headers", (p: number) => `GET http://allowed.test:${p}/ HTTP/1.1\r\nHost: allowed.test:${p}\r\nHost: other.test:${p}\r\n\r\n`],
  ])("refuses an absolute-form request with %s (400)", async (_what, request) => {
    const { web, proxy } = await setUp();
    const text = await raw(proxy, request(web.port), /\n$/);
    expect(text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(text).toContain("(rule: host-must-match-target)");
    expect(proxy.denials).toEqual([expect.objectContaining({ reason: "host-mismatch" })]);
    untouched(proxy, web);
  });

  it.each([
    ["another host", (p: number) => `CONNECT allowed.test:${p} HTTP/1.1\r\nHost: other.test:${p}\r\n\r\n`],
    ["another port", (p: number) => `CONNECT allowed.test:${p} HTTP/1.1\r\nHost: allowed.test:1\r\n\r\n`],
    ["two Host headers", (p: number) => `CONNECT allowed.test:${p} HTTP/1.1\r\nHost: allowed.test:${p}\r\nHost: other.test:${p}\r\n\r\n`],
  ])("refuses a CONNECT whose Host names %s, before any tunnel", async (_what, request) => {
    const tlsServer = await startTlsServer();
    const { proxy } = await setUp();
    const text = await raw(proxy, request(tlsServer.port));
    expect(text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(text).toContain(`the request targets allowed.test:${tlsServer.port}`);
    expect(proxy.denials).toEqual([expect.objectContaining({ host: "allowed.test", port: tlsServer.port, reason: "host-mismatch" })]);
    untouched(proxy, tlsServer);
  });

  it("lets a CONNECT through whose Host is its target, with or without the port, or absent", async () => {
    const tlsServer = await startTlsServer();
    const { proxy } = await setUp();
    for (const host of [`Host: allowed.test:${tlsServer.port}\r\n`, "Host: ALLOWED.test.\r\n", ""]) {
      const text = await raw(proxy, `CONNECT allowed.test:${tlsServer.port} HTTP/1.1\r\n${host}\r\n`, /\r\n\r\n/);
      expect(text).toMatch(/^HTTP\/1\.1 200 Connection Established\r\n/);
    }
    expect(proxy.denials).toEqual([]);
  });
});

describe("a CONNECT target that is not host:port", () => {
  it.each([
    ["userinfo", "user@allowed.test:443"],
    ["a path", "allowed.test:443/x"],
    ["no host", ":443"],
    ["a URL", "http://allowed.test:443"],
    ["a port of zero", "allowed.test:0"],
    ["two ports", "allowed.test:443:443"],
    ["an unterminated IPv6 address", "[::1:443"],
  ])("refuses %s with a 400 naming the rule", async (_what, target) => {
    const { web, proxy } = await setUp();
    const text = await raw(proxy, `CONNECT ${target} HTTP/1.1\r\n\r\n`);
    expect(text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(text).toContain("(rule: connect-target)");
    expect(proxy.denials).toEqual([expect.objectContaining({ host: "", port: null, reason: "bad-request" })]);
    untouched(proxy, web);
  });
});

describe("oversized and slow headers", () => {
  it("answers 431 to headers over maxHeaderBytes, on a plain request and on CONNECT", async () => {
    const { web, proxy } = await setUp({ maxHeaderBytes: 4096 });
    const big = `X-Filler: ${"a".repeat(5000)}\r\n`;
    for (const request of [`GET http://allowed.test:${web.port}/ HTTP/1.1\r\n${big}\r\n`, `CONNECT allowed.test:${web.port} HTTP/1.1\r\n${big}\r\n`]) {
      const text = await raw(proxy, request);
      expect(text).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
      expect(text).toContain("over 4096 bytes (rule: max-header-bytes)");
    }
    // Many small headers add up the same way.
    const many = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${"b".repeat(10)}\r\n`).join("");
    expect(await raw(proxy, `GET http://allowed.test:${web.port}/ HTTP/1.1\r\n${many}\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
    expect(proxy.denials.map((d) => d.reason)).toEqual(["header-too-large", "header-too-large", "header-too-large"]);
    untouched(proxy, web);
  });

  it("passes headers just under the limit", async () => {
    const { web, proxy } = await setUp({ maxHeaderBytes: 4096 });
    const where = `allowed.test:${web.port}`;
    const text = await raw(proxy, `GET http://${where}/ HTTP/1.1\r\nHost: ${where}\r\nX-Filler: ${"a".repeat(3000)}\r\nConnection: close\r\n\r\n`);
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(proxy.denials).toEqual([]);
  });

  it("answers 408 and closes when headers trickle in slower than headersTimeoutMs (slowloris), CONNECT or not", async () => {
    const { web, proxy } = await setUp({ headersTimeoutMs: 300 });
    const started = performance.now();
    const answers = await Promise.all([
      slowClient(proxy.port, `CONNECT allowed.test:${web.port} HTTP/1.1\r\nX-Slow: ${"z".repeat(100)}`, 50),
      slowClient(proxy.port, `GET http://allowed.test:${web.port}/ HTTP/1.1\r\nX-Slow: ${"z".repeat(100)}`, 50),
      // Connected, and not a byte.
      slowClient(proxy.port, "", 50),
    ]);
    for (const answer of answers) {
      expect(answer.text).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(answer.text).toContain("within 300 ms (rule: header-timeout)");
      expect(answer.closed).toBe(true);
    }
    // Long before the 100 bytes would have arrived at one per 50 ms (5 s).
    expect(performance.now() - started).toBeLessThan(4000);
    expect(proxy.denials.map((d) => d.reason)).toEqual(["header-timeout", "header-timeout", "header-timeout"]);
    untouched(proxy, web);
  });
});

describe("a Host header that names the proxy itself", () => {
  it("is not another target: Node's http.request sends it on a hand-written CONNECT", async () => {
    const tlsServer = await startTlsServer();
    const { proxy } = await setUp();
    const text = await raw(proxy, `CONNECT allowed.test:${tlsServer.port} HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port}\r\n\r\n`, /\r\n\r\n/);
    expect(text).toMatch(/^HTTP\/1\.1 200 Connection Established\r\n/);
    // The proxy's address on another port is another target.
    const other = await raw(proxy, `CONNECT allowed.test:${tlsServer.port} HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port + 1}\r\n\r\n`);
    expect(other).toMatch(/^HTTP\/1\.1 400 /);
    expect(proxy.denials.map((d) => d.reason)).toEqual(["host-mismatch"]);
  });
});

describe("the limits themselves", () => {
  it("refuses a limit that is not a positive whole number, naming it, before anything listens", async () => {
    for (const limits of [{ maxHeaderBytes: 0 }, { headersTimeoutMs: -1 }, { maxConnectionsPerClient: 1.5 }, { tunnelIdleMs: Number.NaN }]) {
      await expect(createEgressProxy({ policy: { mode: "all" }, limits })).rejects.toThrow(new RegExp(`^limits\\.${Object.keys(limits)[0]} must be a positive whole number`));
    }
  });
});
