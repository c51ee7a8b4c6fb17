/**
 * Credential bindings, tried as the agent would: the bottle holds a placeholder and
 * trusts the bottle's CA only; the bound host's TLS server (loopback, the test
 * certificate, which the proxy trusts through upstreamCa) must get the value in a
 * header and nowhere else, and no other server may ever get it.
 */
import crypto from "node:crypto";
import tls from "node:tls";
import zlib from "node:zlib";
import { afterEach, describe, expect, it, vi } from "vitest";
import { compileBindings, createBottleCa, CredentialError, StreamMatcher, type CredentialBinding, type DenialRecord } from "../src/index.js";
import { issueLeaf, loadCa } from "../src/x509.js";
import {
  cert as testCert,
  cleanUp,
  connectVia,
  deadPort,
  httpsRequest,
  startHttpServer,
  startProxy,
  startTlsServer,
  TunnelAgent,
  viaProxy,
} from "./support.js";

afterEach(cleanUp);

const VALUE = "sk-ant-REAL-VALUE-0123456789abcdef";
const PLACEHOLDER = "cb-placeholder-ANTHROPIC_API_KEY-7f3a";
const OTHER_VALUE = "oauth-REAL-other-fedcba9876543210";
const OTHER_PLACEHOLDER = "cb-placeholder-OTHER_TOKEN-91b2";

const BOUND = "api.allowed.test";
const UNBOUND = "allowed.test";
const bindings = (): CredentialBinding[] => [
  { env: "ANTHROPIC_API_KEY", hosts: [BOUND], placeholder: PLACEHOLDER, value: VALUE },
  { env: "OTHER_TOKEN", hosts: ["*.wild.test"], placeholder: OTHER_PLACEHOLDER, value: OTHER_VALUE },
];

async function setUp(options: { routes?: Parameters<typeof startTlsServer>[0]; maxBufferedBody?: number; upstreamCa?: string | undefined } = {}) {
  const server = await startTlsServer(options.routes);
  const ca = createBottleCa({ hosts: [BOUND, "*.wild.test"], label: "test" });
  const errors: unknown[] = [];
  const proxy = await startProxy(
    { mode: "allow", allow: [BOUND, UNBOUND, "*.wild.test"], allowPrivate: ["127.0.0.1/32"] },
    { [BOUND]: "127.0.0.1", [UNBOUND]: "127.0.0.1", "x.wild.test": "127.0.0.1" },
    {
      credentials: {
        bindings: bindings(),
        ca,
        ...("upstreamCa" in options ? options.upstreamCa && { upstreamCa: options.upstreamCa } : { upstreamCa: testCert }),
        ...(options.maxBufferedBody !== undefined && { maxBufferedBody: options.maxBufferedBody }),
      },
      onError: (err) => errors.push(err),
    },
  );
  const agents: TunnelAgent[] = [];
  /** A client as in the bottle: through the proxy, trusting `trust` (default the bottle's CA) only. */
  const client = (trust = ca.certPem, keepAlive = false) => {
    const agent = new TunnelAgent(proxy.port, { ca: trust, keepAlive, maxSockets: 1 });
    agents.push(agent);
    return agent;
  };
  const url = (host: string, path = "/") => `https://${host}:${server.port}${path}`;
  /** Nothing the proxy recorded or reported, and nothing an unbound server got, holds a value. */
  const noValueLeaked = () => {
    const said = JSON.stringify([proxy.denials, errors.map(String)]);
    for (const secret of [VALUE, OTHER_VALUE]) expect(said).not.toContain(secret);
  };
  return { server, ca, proxy, client, url, errors, noValueLeaked, done: () => agents.forEach((a) => a.destroy()) };
}

const misuse = (detail: RegExp) =>
  expect.objectContaining<Partial<DenialRecord>>({ host: BOUND, reason: "credential-misuse", detail: expect.stringMatching(detail) as string });

describe("a bound host", () => {
  it("gets the real value in the headers that carry the placeholder, over TLS the proxy checked", async () => {
    const t = await setUp();
    const reply = await httpsRequest(t.client(), t.url(BOUND, "/v1/messages"), {
      method: "POST",
      headers: { authorization: `Bearer ${PLACEHOLDER}`, "x-api-key": PLACEHOLDER, "x-other": `a ${PLACEHOLDER} b ${PLACEHOLDER}`, "content-type": "application/json" },
      body: ['{"model":"x","messages":[]}'],
      alpn: ["h2", "http/1.1"],
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe(`hello from ${BOUND}:${t.server.port}`);
    expect(reply.alpn).toBe("http/1.1");
    const seen = t.server.seen[0]!;
    expect(seen.headers.authorization).toBe(`Bearer ${VALUE}`);
    expect(seen.headers["x-api-key"]).toBe(VALUE);
    expect(seen.headers["x-other"]).toBe(`a ${VALUE} b ${VALUE}`);
    expect(seen.headers.host).toBe(`${BOUND}:${t.server.port}`);
    expect(seen.body).toBe('{"model":"x","messages":[]}'.length);
    // Another binding's placeholder is not this host's: it stays a placeholder.
    await httpsRequest(t.client(), t.url(BOUND), { headers: { "x-token": OTHER_PLACEHOLDER } });
    expect(t.server.seen[1]?.headers["x-token"]).toBe(OTHER_PLACEHOLDER);
    expect(t.proxy.denials).toEqual([]);
    t.noValueLeaked();
    t.done();
  });

  it("binds *.domain to its subdomains", async () => {
    const t = await setUp();
    await httpsRequest(t.client(), t.url("x.wild.test"), { headers: { authorization: `token ${OTHER_PLACEHOLDER}`, "x-api-key": PLACEHOLDER } });
    expect(t.server.seen[0]?.headers.authorization).toBe(`token ${OTHER_VALUE}`);
    expect(t.server.seen[0]?.headers["x-api-key"]).toBe(PLACEHOLDER);
    t.done();
  });

  it("gets the real value inside a Basic authorization, as git sends a token over HTTPS, and only its own", async () => {
    const t = await setUp();
    const basic = (text: string) => `Basic ${Buffer.from(text, "latin1").toString("base64")}`;
    await httpsRequest(t.client(), t.url(BOUND, "/owner/repo.git/git-receive-pack"), { method: "POST", headers: { authorization: basic(`x-access-token:${PLACEHOLDER}`) }, body: ["0000"] });
    expect(t.server.seen[0]?.headers.authorization).toBe(basic(`x-access-token:${VALUE}`));
    // Any case of the scheme, the placeholder as the user name; another binding's placeholder stays one.
    await httpsRequest(t.client(), t.url(BOUND), { headers: { authorization: `bAsIc ${Buffer.from(`${PLACEHOLDER}:${OTHER_PLACEHOLDER}`).toString("base64")}` } });
    expect(t.server.seen[1]?.headers.authorization).toBe(`bAsIc ${Buffer.from(`${VALUE}:${OTHER_PLACEHOLDER}`).toString("base64")}`);
    // Not base64 of anything (a stray last group): passed on as written, never decoded loosely into a value.
    const loose = `Basic ${Buffer.from(`u:${PLACEHOLDER}`).toString("base64").replace(/=*$/, "")}A`;
    await httpsRequest(t.client(), t.url(BOUND), { headers: { authorization: loose } });
    expect(t.server.seen[2]?.headers.authorization).toBe(loose);
    expect(t.proxy.denials).toEqual([]);
    t.noValueLeaked();
    t.done();
  });

  it("does not put a value into a Basic authorization to an unbound host, nor to a bound host's neighbour", async () => {
    const t = await setUp();
    const basic = `Basic ${Buffer.from(`x-access-token:${PLACEHOLDER}`).toString("base64")}`;
    await httpsRequest(t.client(testCert), t.url(UNBOUND), { headers: { authorization: basic } });
    expect(t.server.seen[0]?.headers.authorization).toBe(basic);
    // The wildcard binding's host gets its own value only, never ANTHROPIC_API_KEY's.
    await httpsRequest(t.client(), t.url("x.wild.test"), { headers: { authorization: basic } });
    expect(t.server.seen[1]?.headers.authorization).toBe(basic);
    expect(t.server.received()).not.toContain(VALUE);
    expect(t.server.received()).not.toContain(Buffer.from(`x-access-token:${VALUE}`).toString("base64"));
    t.done();
  });

  it("is reached only by a client that trusts the bottle's CA", async () => {
    const t = await setUp();
    // Trusting the real server's certificate is not enough: the proxy answers with the bottle's CA.
    await expect(httpsRequest(t.client(testCert), t.url(BOUND), { headers: { "x-api-key": PLACEHOLDER } })).rejects.toThrow(
      /self[- ]signed|unable to verify|unable to get local issuer/i,
    );
    await expect(httpsRequest(t.client(createBottleCa({ hosts: [BOUND] }).certPem), t.url(BOUND))).rejects.toThrow();
    expect(t.server.seen).toEqual([]);
    t.done();
  });

  it("keeps the client's connection alive, with chunked and content-length bodies, over one upstream connection", async () => {
    const t = await setUp();
    const agent = t.client(undefined, true);
    const replies = [];
    replies.push(await httpsRequest(agent, t.url(BOUND, "/echo"), { method: "POST", headers: { "x-api-key": PLACEHOLDER }, body: ["abc", "defg"] }));
    replies.push(await httpsRequest(agent, t.url(BOUND, "/echo"), { method: "POST", headers: { "x-api-key": PLACEHOLDER, "content-length": 5 }, body: ["12345"] }));
    replies.push(await httpsRequest(agent, t.url(BOUND, "/big?n=3000000"), { headers: { "x-api-key": PLACEHOLDER } }));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(replies[0]?.body).toBe("got 7 bytes");
    expect(replies[1]?.body).toBe("got 5 bytes");
    expect(replies[2]?.body.length).toBe(3_000_000);
    expect(t.server.seen.map((s) => s.headers["x-api-key"])).toEqual([VALUE, VALUE, VALUE]);
    expect(t.server.connections()).toBe(1);
    t.done();
  });

  it("streams an answer as it comes (server-sent events)", async () => {
    let next: (() => void) | undefined;
    const t = await setUp({
      routes: (req, res) => {
        if (req.url !== "/sse") return false;
        res.writeHead(200, { "content-type": "text/event-stream" });
        let n = 0;
        // The next event is sent only once the client has the previous one: a proxy that buffered would hang here.
        next = () => {
          n++;
          if (n <= 3) res.write(`event: delta\ndata: ${n}\n\n`);
          else res.end();
        };
        next();
        return true;
      },
    });
    const events: string[] = [];
    const reply = await httpsRequest(t.client(), t.url(BOUND, "/sse"), {
      headers: { authorization: `Bearer ${PLACEHOLDER}` },
      onData: (chunk) => {
        events.push(chunk);
        setImmediate(() => next?.());
      },
    });
    expect(reply.body).toBe("event: delta\ndata: 1\n\nevent: delta\ndata: 2\n\nevent: delta\ndata: 3\n\n");
    expect(events.length).toBeGreaterThanOrEqual(3);
    t.done();
  });

  it("turns a value the server echoes back into the placeholder, in headers and body", async () => {
    const t = await setUp({
      routes: (req, res) => {
        if (req.url !== "/reflect") return false;
        const auth = req.headers.authorization ?? "";
        res.writeHead(200, { "x-echo": auth, "content-type": "text/plain" });
        // In small pieces, so that the value is split across chunks.
        const text = `you sent: ${auth}; again: ${auth}.`;
        let i = 0;
        const pump = () => {
          if (i >= text.length) return res.end();
          res.write(text.slice(i, i + 7));
          i += 7;
          setImmediate(pump);
        };
        pump();
        return true;
      },
    });
    const reply = await httpsRequest(t.client(), t.url(BOUND, "/reflect"), { headers: { authorization: `Bearer ${PLACEHOLDER}` } });
    expect(reply.headers["x-echo"]).toBe(`Bearer ${PLACEHOLDER}`);
    expect(reply.body).toBe(`you sent: Bearer ${PLACEHOLDER}; again: Bearer ${PLACEHOLDER}.`);
    expect(t.server.received()).toContain(VALUE); // it did get the value
    t.done();
  });

  describe("echoed in a coded body, whatever the server was asked for", () => {
    const compress: Record<string, (data: Buffer) => Buffer> = {
      gzip: (d) => zlib.gzipSync(d),
      deflate: (d) => zlib.deflateSync(d),
      br: (d) => zlib.brotliCompressSync(d),
    };
    /** Echoes the Authorization header in a body coded as `route` says, ignoring Accept-Encoding, in 5-byte chunks. */
    const codingServer = () =>
      setUp({
        routes: (req, res) => {
          const [, kind, codings] = /^\/(content|transfer)\/(.+)$/.exec(req.url ?? "") ?? [];
          if (kind === undefined) return false;
          let body: Buffer = Buffer.from(`accept-encoding: ${req.headers["accept-encoding"]}; you sent: ${req.headers.authorization}.`);
          for (const coding of codings!.split(",")) body = (compress[coding] ?? ((d: Buffer) => Buffer.concat([d, Buffer.from(coding)])))(body);
          res.writeHead(200, kind === "content" ? { "content-encoding": codings!.split(",").join(", ") } : { "transfer-encoding": `${codings!.split(",").join(", ")}, chunked` });
          let i = 0;
          const pump = () => {
            if (i >= body.length) return res.end();
            res.write(body.subarray(i, i + 5));
            i += 5;
            setImmediate(pump);
          };
          pump();
          return true;
        },
      });

    it.each([["content/gzip"], ["content/deflate"], ["content/br"], ["content/gzip,br"], ["transfer/gzip"]])(
      "%s: decoded, scrubbed, and passed on plain",
      async (route) => {
        const t = await codingServer();
        const reply = await httpsRequest(t.client(), t.url(BOUND, `/${route}`), { headers: { authorization: `Bearer ${PLACEHOLDER}`, "accept-encoding": "gzip, deflate, br" } });
        expect(reply.status).toBe(200);
        expect(reply.headers["content-encoding"]).toBeUndefined();
        // The server was asked for identity (it answered coded anyway), and the value came back as the placeholder.
        expect(reply.body).toBe(`accept-encoding: identity; you sent: Bearer ${PLACEHOLDER}.`);
        expect(t.server.received()).toContain(VALUE);
        t.done();
      },
    );

    it.each([["content/zstd"], ["content/gzip,compress"], ["transfer/x-custom"]])("%s: a coding it cannot undo is a 502, and nothing of the body passes", async (route) => {
      const t = await codingServer();
      const reply = await httpsRequest(t.client(), t.url(BOUND, `/${route}`), { headers: { authorization: `Bearer ${PLACEHOLDER}` } });
      expect(reply.status).toBe(502);
      expect(reply.body).toMatch(/answered with the coding "(zstd|compress|x-custom)", which the proxy cannot decode/);
      expect(reply.body).not.toContain("you sent");
      t.noValueLeaked();
      t.done();
    });

    it("a body that claims gzip but does not decode ends the answer, with nothing of it passed on", async () => {
      const t = await setUp({
        routes: (req, res) => {
          if (req.url !== "/broken") return false;
          res.writeHead(200, { "content-encoding": "gzip" });
          res.end(`you sent: ${req.headers.authorization}`);
          return true;
        },
      });
      const reply = await httpsRequest(t.client(), t.url(BOUND, "/broken"), { headers: { authorization: `Bearer ${PLACEHOLDER}` } }).catch((err: Error) => err);
      if (!(reply instanceof Error)) expect(reply.body).not.toContain(VALUE);
      expect(JSON.stringify(reply instanceof Error ? reply.message : reply)).not.toContain(VALUE);
      t.done();
    });
  });

  it("close() ends terminated connections, both sides", async () => {
    const t = await setUp();
    const agent = t.client(undefined, true);
    await httpsRequest(agent, t.url(BOUND), { headers: { "x-api-key": PLACEHOLDER } });
    expect(t.server.open.size).toBe(1);
    await t.proxy.close();
    await vi.waitFor(() => expect(t.server.open.size).toBe(0));
    await expect(httpsRequest(agent, t.url(BOUND))).rejects.toThrow();
    t.done();
  });

  it("answers a CONNECT it cannot dial with 502, as the tunnel does", async () => {
    const t = await setUp();
    const port = await deadPort();
    const reply = await connectVia(t.proxy, `${BOUND}:${port}`);
    expect(reply.status).toBe(502);
    expect(reply.body).toBe(`claude-bottle egress: could not connect to ${BOUND}:${port} (ECONNREFUSED)\n`);
    t.done();
  });

  it("is not reached when its certificate does not verify (no extra CA for the upstream)", async () => {
    const t = await setUp({ upstreamCa: undefined });
    const reply = await httpsRequest(t.client(), t.url(BOUND), { headers: { "x-api-key": PLACEHOLDER } });
    expect(reply.status).toBe(502);
    expect(reply.body).toMatch(/^claude-bottle egress: api\.allowed\.test:\d+ failed before answering \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)\n$/);
    expect(t.server.received()).not.toContain(VALUE);
    expect(t.server.seen).toEqual([]);
    t.done();
  });
});

describe("a placeholder where the proxy would not replace it", () => {
  it.each([
    ["the query", `/v1/models?key=${PLACEHOLDER}`],
    ["the path", `/v1/${PLACEHOLDER}/models`],
    ["the path, percent-encoded", `/v1/${encodeURIComponent(PLACEHOLDER).replace(/-/g, "%2D")}`],
  ])("in %s is refused with 403 and never reaches the server", async (_where, path) => {
    const t = await setUp();
    const reply = await httpsRequest(t.client(), t.url(BOUND, path), { headers: { "x-api-key": PLACEHOLDER } });
    expect(reply.status).toBe(403);
    expect(reply.body).toBe(
      `claude-bottle egress: ${BOUND}:${t.server.port}: the request's URL holds the placeholder of ANTHROPIC_API_KEY; the proxy puts the value only into headers, so the request was not sent (credential-misuse)\n`,
    );
    expect(t.server.received()).toBe("");
    expect(t.proxy.denials).toEqual([misuse(/URL holds the placeholder of ANTHROPIC_API_KEY/)]);
    t.noValueLeaked();
    t.done();
  });

  it("in the body is refused with 403 before anything is sent, even split across chunks", async () => {
    const t = await setUp();
    const half = PLACEHOLDER.length >> 1;
    const reply = await httpsRequest(t.client(), t.url(BOUND, "/v1/messages"), {
      method: "POST",
      headers: { "x-api-key": PLACEHOLDER },
      body: ['{"messages":[{"content":"', PLACEHOLDER.slice(0, half), PLACEHOLDER.slice(half), '"}]}'],
    });
    expect(reply.status).toBe(403);
    expect(reply.body).toMatch(/the request's body holds the placeholder of ANTHROPIC_API_KEY; .* so the request was not sent \(credential-misuse\)/);
    expect(t.server.received()).toBe("");
    expect(t.proxy.denials).toEqual([misuse(/body holds the placeholder/)]);
    t.noValueLeaked();
    t.done();
  });

  it("in a body larger than the buffer aborts the upstream request before the placeholder's bytes are sent", async () => {
    const t = await setUp({ maxBufferedBody: 64 * 1024 });
    const filler = Buffer.alloc(100 * 1024, "a");
    const half = PLACEHOLDER.length >> 1;
    const reply = await httpsRequest(t.client(), t.url(BOUND, "/echo"), {
      method: "POST",
      headers: { "x-api-key": PLACEHOLDER },
      body: [filler, PLACEHOLDER.slice(0, half), PLACEHOLDER.slice(half), filler],
    }).catch((err: Error) => ({ status: 0, body: err.message }));
    // The answer is a 403 unless the server answered first; either way the request was cut short.
    expect([0, 403]).toContain(reply.status);
    // Streaming had started (the record says so); how much of it the server read before the abort varies.
    expect(t.server.received()).not.toContain(PLACEHOLDER.slice(0, half + 1));
    expect(t.server.seen).toEqual([]); // the server never got a whole request
    expect(t.proxy.denials).toEqual([misuse(/aborted before the placeholder was sent/)]);
    t.noValueLeaked();
    t.done();
  });

  it("a large body without one streams through whole", async () => {
    const t = await setUp({ maxBufferedBody: 64 * 1024 });
    const reply = await httpsRequest(t.client(), t.url(BOUND, "/echo"), {
      method: "POST",
      headers: { "x-api-key": PLACEHOLDER, "content-length": 300 * 1024 },
      body: [Buffer.alloc(100 * 1024, "a"), Buffer.alloc(100 * 1024, "b"), Buffer.alloc(100 * 1024, "c")],
    });
    expect(reply.body).toBe(`got ${300 * 1024} bytes`);
    expect(t.server.seen[0]?.headers["content-length"]).toBe(String(300 * 1024));
    t.done();
  });

  it("a Host header naming another host is refused", async () => {
    const t = await setUp();
    const reply = await httpsRequest(t.client(), t.url(BOUND), { headers: { host: "evil.example", "x-api-key": PLACEHOLDER }, servername: BOUND });
    expect(reply.status).toBe(403);
    expect(reply.body).toMatch(/names another host in its Host header/);
    expect(t.server.received()).toBe("");
    t.done();
  });
});

describe("every other host", () => {
  it("plain HTTP to a bound host is not terminated: the placeholder arrives as it was", async () => {
    const t = await setUp();
    const web = await startHttpServer();
    const reply = await viaProxy(t.proxy, `http://${BOUND}:${web.port}/`, { headers: { "x-api-key": PLACEHOLDER } });
    expect(reply.status).toBe(200);
    expect(web.seen[0]?.headers["x-api-key"]).toBe(PLACEHOLDER);
    t.done();
  });

  it("is tunnelled untouched: an allowed but unbound server gets the placeholder as it was sent", async () => {
    const t = await setUp();
    // The client talks TLS with the real server itself (the proxy does not terminate it).
    const reply = await httpsRequest(t.client(testCert), t.url(UNBOUND, `/p?key=${PLACEHOLDER}`), {
      method: "POST",
      headers: { authorization: `Bearer ${PLACEHOLDER}`, "x-api-key": PLACEHOLDER },
      body: [PLACEHOLDER],
    });
    expect(reply.status).toBe(200);
    const seen = t.server.seen[0]!;
    expect(seen.headers.authorization).toBe(`Bearer ${PLACEHOLDER}`);
    expect(seen.headers["x-api-key"]).toBe(PLACEHOLDER);
    expect(seen.url).toBe(`/p?key=${PLACEHOLDER}`);
    expect(t.server.received()).not.toContain(VALUE);
    expect(t.proxy.denials).toEqual([]);
    t.done();
  });
});

describe("the bottle's CA", () => {
  it("is an ECDSA P-256 CA, name-constrained to the bound hosts", async () => {
    const ca = createBottleCa({ hosts: ["api.example.com", "*.example.org"], label: "b1" });
    const x = new crypto.X509Certificate(ca.certPem);
    expect(x.ca).toBe(true);
    expect(x.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: "prime256v1" });
    expect(x.subject).toContain("CN=claude-bottle CA for b1");
    expect(x.checkPrivateKey(crypto.createPrivateKey(ca.keyPem))).toBe(true);
    const loaded = loadCa(ca);
    const leaf = new crypto.X509Certificate(issueLeaf(loaded, "api.example.com", new Date(), 86_400_000).certPem);
    expect(leaf.verify(x.publicKey)).toBe(true);
    expect(leaf.checkHost("api.example.com")).toBe("api.example.com");
  });

  it("cannot vouch for a name outside its constraints, even with its own key", async () => {
    const ca = createBottleCa({ hosts: ["api.allowed.test"] });
    const loaded = loadCa(ca);
    const handshake = async (host: string) => {
      const leaf = issueLeaf(loaded, host, new Date(), 86_400_000);
      const server = tls.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (s) => s.end());
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as { port: number };
      try {
        return await new Promise<string>((resolve) => {
          const socket = tls.connect({ host: "127.0.0.1", port, servername: host, ca: ca.certPem, checkServerIdentity: () => undefined });
          socket.once("secureConnect", () => resolve("ok"));
          socket.once("error", (err: NodeJS.ErrnoException) => resolve(`${err.code} ${err.message}`));
        });
      } finally {
        server.close();
      }
    };
    expect(await handshake("api.allowed.test")).toBe("ok");
    expect(await handshake("other.test")).toMatch(/permitted subtree violation/);
  });

  it("refuses a CA whose key is not its own, and says so without the key", () => {
    const a = createBottleCa();
    const b = createBottleCa();
    expect(() => loadCa({ certPem: a.certPem, keyPem: b.keyPem })).toThrow("the CA key does not belong to the CA certificate");
    expect(() => loadCa({ certPem: "nope", keyPem: a.keyPem })).toThrow("the CA certificate is not a PEM certificate");
  });
});

describe("bindings", () => {
  it.each([
    [[{ env: "A", hosts: [], placeholder: PLACEHOLDER, value: VALUE }], /credentials\[0\] \(A\)\.hosts must be a non-empty list/],
    [[{ env: "A", hosts: ["127.0.0.1"], placeholder: PLACEHOLDER, value: VALUE }], /is an IP address/],
    // The CA is name-constrained to the bound hosts, which createBottleCa could not make with a port: refused here, as the agent file does.
    [[{ env: "A", hosts: ["a.test:8443"], placeholder: PLACEHOLDER, value: VALUE }], /credentials\[0\] \(A\)\.hosts\[0\]: "a.test:8443" names a port/],
    [[{ env: "A", hosts: ["a.test"], placeholder: "short", value: VALUE }], /placeholder must be 8 to 1024/],
    [[{ env: "A", hosts: ["a.test"], placeholder: PLACEHOLDER, value: `${VALUE}\r\nx-injected: 1` }], /value must be a non-empty string without control characters/],
    [[{ env: "A", hosts: ["a.test"], placeholder: PLACEHOLDER, value: VALUE, extra: VALUE }], /credentials\[0\]\.extra is not a binding field/],
    [
      [
        { env: "A", hosts: ["a.test"], placeholder: PLACEHOLDER, value: VALUE },
        { env: "B", hosts: ["a.test"], placeholder: `${PLACEHOLDER}-2`, value: OTHER_VALUE },
      ],
      /placeholder and that of A overlap/,
    ],
  ])("refuses %j, naming the field and never the value", (input, message) => {
    let error: unknown;
    try {
      compileBindings(input);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CredentialError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(VALUE);
  });
});

describe("StreamMatcher", () => {
  const text = `aaa ${PLACEHOLDER} bbb ${PLACEHOLDER.slice(0, 10)} ccc ${PLACEHOLDER}`;
  it("finds and replaces across every split of the stream", () => {
    for (let cut = 1; cut < text.length; cut++) {
      for (const step of [1, 3, cut]) {
        const m = new StreamMatcher([Buffer.from(PLACEHOLDER)], [Buffer.from("<V>")]);
        let out = "";
        const first = Buffer.from(text.slice(0, cut));
        out += m.push(first).out.toString();
        for (let i = cut; i < text.length; i += step) out += m.push(Buffer.from(text.slice(i, i + step))).out.toString();
        out += m.end().toString();
        expect(out).toBe(text.split(PLACEHOLDER).join("<V>"));
      }
    }
  });

  it("never passes on the start of a pattern before it knows", () => {
    const m = new StreamMatcher([Buffer.from(PLACEHOLDER)]);
    let passed = "";
    let found = -1;
    for (const ch of `xx${PLACEHOLDER}yy`) {
      const r = m.push(Buffer.from(ch));
      passed += r.out.toString();
      if (r.found !== -1) {
        found = r.found;
        break;
      }
    }
    expect(found).toBe(0);
    expect(passed).toBe("xx");
  });
});

describe("request smuggling inside the TLS connection to a bound host", () => {
  it.each([
    ["Content-Length and Transfer-Encoding", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"],
    ["a Transfer-Encoding other than chunked", "Transfer-Encoding: gzip\r\n", "abc"],
  ])("refuses %s with a 400 naming the rule; the server gets nothing, not even the headers with the value", async (_what, framing, body) => {
    const t = await setUp();
    const tunnel = await connectVia(t.proxy, `${BOUND}:${t.server.port}`);
    expect(tunnel.status).toBe(200);
    const secure = tls.connect({ socket: tunnel.socket, servername: BOUND, ca: t.ca.certPem });
    let answer = "";
    secure.on("data", (c: Buffer) => (answer += c.toString("latin1")));
    secure.on("error", () => {});
    secure.write(`POST /v1/messages HTTP/1.1\r\nHost: ${BOUND}:${t.server.port}\r\nx-api-key: ${PLACEHOLDER}\r\n${framing}\r\n${body}`);
    await vi.waitFor(() => expect(answer).toMatch(/\r\n\r\n.*\n$/s));
    secure.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).toContain("(rule: request-smuggling)");
    expect(t.server.received()).toBe("");
    expect(t.proxy.denials).toEqual([expect.objectContaining({ host: BOUND, reason: "smuggling" })]);
    t.noValueLeaked();
    t.done();
  });
});
