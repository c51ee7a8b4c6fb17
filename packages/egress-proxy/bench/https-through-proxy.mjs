#!/usr/bin/env node
// HTTPS requests to a loopback TLS server, made directly, through the standalone
// proxy (dist/main.js, in its own process as in a sidecar), through the same proxy
// with the server's name bound to a credential (the proxy terminates TLS with the
// bottle's CA, writes the value into a header and speaks TLS to the server itself)
// and, for scale, through a bare CONNECT relay (no policy, no HTTP parser, no DNS:
// the least any proxy process costs here), interleaved over several rounds; prints
// the medians and the ratios.
// Build first:
//
//   pnpm --filter @claude-bottle/egress-proxy build
//   node packages/egress-proxy/bench/https-through-proxy.mjs [--requests 100] [--rounds 9] [--rtt-ms 0]
//
// Two ways of asking:
//   new connection: each request opens its own connection with a full TLS handshake
//                   (through a proxy: its own CONNECT), as a loop of curl would;
//   keep-alive:     the requests share one connection (through a proxy: one tunnel).
// --rtt-ms N puts N ms of round trip between everything and the TLS server (a delaying
// TCP relay on loopback), as an origin on the internet would be; 0 (the default) is
// the worst case for any proxy: the extra hop is then all there is to measure.
// The client resolves "localhost" for direct requests; the proxy resolves it itself
// (its policy allows "localhost" and lifts 127.0.0.1/32 out of the blocked ranges).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createBottleCa } from "../dist/index.js";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "100" },
    rounds: { type: "string", default: "9" },
    "rtt-ms": { type: "string", default: "0" },
  },
});
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);
const RTT = Number(values["rtt-ms"]);

const cert = readFileSync(new URL("../test/fixtures/cert.pem", import.meta.url));
const key = readFileSync(new URL("../test/fixtures/key.pem", import.meta.url));
const main = fileURLToPath(new URL("../dist/main.js", import.meta.url));

// The target: a TLS server answering 1 KiB, on loopback only.
const body = Buffer.alloc(1024, "x");
const server = https.createServer({ cert, key }, (req, res) => {
  res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
  res.end(body);
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
let target = server.address().port;

// With --rtt-ms, everyone reaches the target through a relay that holds each chunk RTT/2 each way.
let delay;
if (RTT > 0) {
  delay = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ host: "127.0.0.1", port: server.address().port, noDelay: true });
    const late = (from, to) => {
      from.on("data", (chunk) => setTimeout(() => to.destroyed || to.write(chunk), RTT / 2));
      from.on("end", () => setTimeout(() => to.end(), RTT / 2));
      from.on("error", () => to.destroy());
    };
    late(client, upstream);
    late(upstream, client);
  });
  await new Promise((resolve) => delay.listen(0, "127.0.0.1", resolve));
  target = delay.address().port;
}

// A bare CONNECT relay: reads the request line, dials 127.0.0.1, splices. No checks at all.
const BARE_RELAY = `
const net = require("node:net");
const server = net.createServer({ noDelay: true }, (client) => {
  let head = "";
  const onData = (chunk) => {
    head += chunk.toString("latin1");
    const end = head.indexOf("\\r\\n\\r\\n");
    if (end === -1) return;
    client.off("data", onData);
    const authority = head.split(" ")[1];
    const port = Number(authority.slice(authority.lastIndexOf(":") + 1));
    const upstream = net.connect({ host: "127.0.0.1", port, noDelay: true }, () => {
      client.write("HTTP/1.1 200 Connection Established\\r\\n\\r\\n");
      client.pipe(upstream).pipe(client);
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  };
  client.on("data", onData);
});
server.listen(0, "127.0.0.1", () => console.log("listening on 127.0.0.1:" + server.address().port));
process.on("SIGTERM", () => process.exit(0));
`;

const dir = mkdtempSync(join(tmpdir(), "egress-bench-"));
const policyFile = join(dir, "policy.json");
writeFileSync(policyFile, JSON.stringify({ mode: "allow", allow: ["localhost"], allowPrivate: ["127.0.0.1/32"] }));

async function startProcess(args, stdin) {
  const child = spawn(process.execPath, args, { stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "inherit"] });
  child.stdin?.end(stdin);
  const [line] = await once(createInterface({ input: child.stdout }), "line");
  return { child, port: Number(line.split(":").pop()) };
}
const proxy = await startProcess([main, "--policy", policyFile, "--listen", "127.0.0.1:0"]);
const relay = await startProcess(["-e", BARE_RELAY]);

// The same proxy with "localhost" bound to a credential: secrets and the bottle's CA on stdin.
const PLACEHOLDER = "cb-placeholder-BENCH_KEY-0000";
const bottleCa = createBottleCa({ hosts: ["localhost"] });
const boundPolicyFile = join(dir, "bound-policy.json");
writeFileSync(
  boundPolicyFile,
  JSON.stringify({
    mode: "allow",
    allow: ["localhost"],
    allowPrivate: ["127.0.0.1/32"],
    credentials: [{ env: "BENCH_KEY", hosts: ["localhost"], placeholder: PLACEHOLDER }],
  }),
);
const bound = await startProcess(
  [main, "--policy", boundPolicyFile, "--listen", "127.0.0.1:0", "--secrets-from-stdin"],
  JSON.stringify({ ca: bottleCa, values: { BENCH_KEY: "bench-value-0123456789" }, upstreamCa: cert.toString() }),
);

/** An https.Agent whose connections are CONNECT tunnels through a proxy. */
class TunnelAgent extends https.Agent {
  constructor(proxyPort, options) {
    super(options);
    this.proxyPort = proxyPort;
  }
  createConnection(options, callback) {
    const req = http.request({
      host: "127.0.0.1",
      port: this.proxyPort,
      method: "CONNECT",
      path: `${options.host}:${options.port}`,
      agent: false,
    });
    req.once("error", callback);
    req.once("connect", (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        callback(new Error(`the proxy answered ${res.statusCode}`));
        return;
      }
      socket.setNoDelay(true);
      callback(null, tls.connect({ ...options, socket }));
    });
    req.end();
  }
}

function get(agent, ca) {
  return new Promise((resolve, reject) => {
    const headers = { "x-api-key": PLACEHOLDER };
    const req = https.request({ host: "localhost", port: target, path: "/", agent, ca, headers }, (res) => {
      res.resume();
      res.once("end", resolve);
      res.once("error", reject);
    });
    req.once("error", reject);
    req.end();
  });
}

async function run(kind, via) {
  // No TLS session reuse between connections: every new connection is a full handshake, as with curl.
  const options = { keepAlive: kind === "keep-alive", maxSockets: 1, maxCachedSessions: 0 };
  const port = { proxy: proxy.port, relay: relay.port, bound: bound.port }[via];
  const agent = via === "direct" ? new https.Agent(options) : new TunnelAgent(port, options);
  // Through the bound proxy the client trusts the bottle's CA, as a bottle does.
  const ca = via === "bound" ? bottleCa.certPem : cert;
  const start = process.hrtime.bigint();
  for (let i = 0; i < REQUESTS; i++) await get(agent, ca);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  agent.destroy();
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

try {
  console.log(`${REQUESTS} HTTPS requests, median of ${ROUNDS} interleaved rounds, ${RTT} ms round trip to the server`);
  for (const kind of ["new connection", "keep-alive"]) {
    const ways = ["direct", "proxy", "relay", "bound"];
    for (const via of ways) await run(kind, via); // warm-up, not counted
    const times = { direct: [], proxy: [], relay: [], bound: [] };
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order, so no way always runs first or on a warmer process.
      for (let i = 0; i < ways.length; i++) {
        const via = ways[(round + i) % ways.length];
        times[via].push(await run(kind, via));
      }
    }
    const [d, p, r, b] = ways.map((via) => median(times[via]));
    console.log(
      `${kind.padEnd(15)} direct ${d.toFixed(1)} ms | egress proxy ${p.toFixed(1)} ms, ${(p / d).toFixed(2)}x` +
        ` (+${((p - d) / REQUESTS).toFixed(2)} ms a request) | bare relay ${r.toFixed(1)} ms, ${(r / d).toFixed(2)}x` +
        ` | bound host (credential) ${b.toFixed(1)} ms, ${(b / d).toFixed(2)}x (+${((b - d) / REQUESTS).toFixed(2)} ms a request)`,
    );
  }
  console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
} finally {
  for (const { child } of [proxy, relay, bound]) {
    child.kill("SIGTERM");
    await once(child, "exit");
  }
  server.close();
  delay?.close();
  rmSync(dir, { recursive: true, force: true });
}
