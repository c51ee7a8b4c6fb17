/**
 * The standalone proxy, built to one file (dist/main.js) that needs only node:
 *
 *   node main.js --policy FILE [--listen HOST:PORT] [--listen-in SUBNET] [--denials FILE|-]... [--secrets-from-stdin] [--LIMIT N]...
 *
 * Prints `listening on HOST:PORT` once it accepts connections. Exits 0 on SIGTERM or
 * SIGINT, 2 on a bad command line, policy or secrets, 1 when it cannot listen.
 *
 * Credential values and the bottle's CA key come only on stdin (never argv, a file or
 * the environment); the policy file holds the bindings without values.
 */
import fs from "node:fs";
import { parseArgs } from "node:util";
import { formatDenial, parseCidr, splitHostPort } from "@claude-bottle/core/egress-policy";
import { holdAnchor } from "./anchor-socket.js";
import { appendDenialsTo, type DenialSink } from "./denials.js";
import { CredentialError } from "./bindings.js";
import { DEFAULT_LIMITS, type ProxyLimits } from "./limits.js";
import { addressesIn } from "./listen-address.js";
import { PolicyError, type EgressPolicy } from "./policy.js";
import { readSecrets, SecretsError, splitPolicy, type Secrets } from "./secrets.js";
import { createEgressProxy } from "./server.js";
import { CaError } from "./x509.js";

const USAGE = `usage: node main.js --policy FILE [--listen HOST:PORT] [--listen-in SUBNET] [--denials FILE|-]... [--secrets-from-stdin] [--LIMIT N]...
  --policy FILE          the policy as JSON: {"mode":"allow","allow":["example.com","*.example.org:443"]},
                         with "credentials": [{"env","hosts","placeholder"}] for credential bindings
  --listen HOST:PORT     where to listen (default 127.0.0.1:3128)
  --listen-in SUBNET     listen on this machine's one address in SUBNET (e.g. 172.18.0.0/16) instead of HOST,
                         on the port of --listen: a proxy on several networks serves only that one
  --denials FILE         append one JSON line per refused request to FILE (created 0600); "-" is stdout; repeatable
  --secrets-from-stdin   read {"ca":{"certPem","keyPem"},"values":{"ENV":"value"},"upstreamCa"?} from stdin
                         (until it closes) before listening; needed when the policy binds credentials
  --anchor               take the port over from the anchor (anchor.js) of this network namespace, which
                         stands in with a 503 whenever this proxy is not running
  --max-header-bytes N   request line and headers, in bytes; more is a 431 (default ${DEFAULT_LIMITS.maxHeaderBytes})
  --header-timeout-ms N  time for a request's headers to arrive; slower is a 408 (default ${DEFAULT_LIMITS.headersTimeoutMs})
  --max-connections-per-client N
                         connections one client address may hold open; the next is a 429 (default ${DEFAULT_LIMITS.maxConnectionsPerClient})
  --tunnel-idle-ms N     a CONNECT tunnel silent both ways this long is closed (default ${DEFAULT_LIMITS.tunnelIdleMs})`;

/** The limit options and the ProxyLimits field each sets. */
const LIMIT_OPTIONS = {
  "max-header-bytes": "maxHeaderBytes",
  "header-timeout-ms": "headersTimeoutMs",
  "max-connections-per-client": "maxConnectionsPerClient",
  "tunnel-idle-ms": "tunnelIdleMs",
} as const satisfies Record<string, keyof ProxyLimits>;

class UsageError extends Error {}

function fail(message: string, code: number): never {
  process.stderr.write(`claude-bottle egress: ${message}\n`);
  process.exit(code);
}

function readOptions() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        policy: { type: "string" },
        listen: { type: "string", default: "127.0.0.1:3128" },
        "listen-in": { type: "string" },
        denials: { type: "string", multiple: true, default: [] },
        "secrets-from-stdin": { type: "boolean", default: false },
        anchor: { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
        ...Object.fromEntries(Object.keys(LIMIT_OPTIONS).map((name) => [name, { type: "string" as const }])),
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (values.policy === undefined) throw new UsageError("--policy FILE is required");
  const listen = parseListen(values.listen ?? "");
  if (listen === undefined) throw new UsageError(`--listen takes HOST:PORT (e.g. 0.0.0.0:3128), not "${values.listen}"`);
  const subnet = values["listen-in"];
  if (subnet !== undefined) listen.host = listenHostIn(subnet);
  const limits: Partial<ProxyLimits> = {};
  for (const [option, field] of Object.entries(LIMIT_OPTIONS)) {
    const text = (values as Record<string, unknown>)[option];
    if (typeof text !== "string") continue;
    if (!/^[1-9]\d{0,9}$/.test(text)) throw new UsageError(`--${option} takes a positive whole number, not "${text}"`);
    limits[field] = Number(text);
  }
  return {
    policyFile: values.policy,
    listen,
    denials: values.denials ?? [],
    secretsFromStdin: values["secrets-from-stdin"] === true,
    anchor: values.anchor === true,
    limits,
  };
}

/** HOST:PORT or [IPv6]:PORT; port 0 picks a free one (the printed line says which). */
function parseListen(text: string): { host: string; port: number } | undefined {
  const split = splitHostPort(text);
  if (!split || split.host === "" || split.port === undefined || !/^\d{1,5}$/.test(split.port) || Number(split.port) > 65535) return undefined;
  return { host: split.host, port: Number(split.port) };
}

/** The one address of this machine in `subnet`; none, or several (which one would be a guess), is a usage error. */
function listenHostIn(subnet: string): string {
  // A subnet, not an address: the proxy learns its own address from the network it was put on.
  const cidr = subnet.includes("/") ? parseCidr(subnet) : undefined;
  if (cidr === undefined || typeof cidr === "string") throw new UsageError(`--listen-in takes ADDRESS/PREFIX (e.g. 172.18.0.0/16), not "${subnet}"`);
  const found = addressesIn(cidr);
  if (found.length !== 1) {
    throw new UsageError(`--listen-in ${subnet}: this machine has ${found.length === 0 ? "no address" : `${found.length} addresses (${found.join(", ")})`} in it; it needs exactly one`);
  }
  return found[0]!;
}

function readPolicy(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read the policy ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`the policy ${file} is not JSON: ${(err as Error).message}`);
  }
}

async function main(): Promise<void> {
  let options: ReturnType<typeof readOptions>;
  let policy: unknown;
  let bindings: ReturnType<typeof splitPolicy>["bindings"];
  try {
    options = readOptions();
    ({ policy, bindings } = splitPolicy(readPolicy(options.policyFile)));
  } catch (err) {
    if (err instanceof UsageError) fail(`${err.message}\n${USAGE}`, 2);
    if (err instanceof SecretsError) fail(`invalid policy in ${options!.policyFile}: ${err.message}`, 2);
    throw err;
  }
  if (bindings.length > 0 && !options.secretsFromStdin) {
    fail(`the policy ${options.policyFile} binds credentials (${bindings.map((b) => b.env).join(", ")}): start with --secrets-from-stdin and write the secrets on stdin`, 2);
  }
  let secrets: Secrets | undefined;
  if (options.secretsFromStdin) {
    try {
      secrets = await readSecrets(process.stdin, bindings);
    } catch (err) {
      if (err instanceof SecretsError) fail(`secrets on stdin: ${err.message}`, 2);
      throw err;
    }
  }

  const closers: (() => void)[] = [];
  const sinks: DenialSink[] = [];
  for (const target of options.denials) {
    if (target === "-") {
      sinks.push((record) => process.stdout.write(formatDenial(record)));
      continue;
    }
    try {
      const file = appendDenialsTo(target);
      sinks.push(file.sink);
      closers.push(file.close);
    } catch (err) {
      fail(`cannot open the denials file ${target}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 2);
    }
  }

  if (options.anchor) {
    try {
      const anchor = await holdAnchor(options.listen.port);
      // The anchor owns this network namespace: without it there is no address left to serve.
      anchor.on("close", () => fail("the anchor went away", 1));
    } catch (err) {
      fail(`--anchor: ${(err as Error).message}`, 1);
    }
  }

  let proxy;
  try {
    proxy = await createEgressProxy({
      policy: policy as EgressPolicy, // validated by createEgressProxy: PolicyError below
      host: options.listen.host,
      port: options.listen.port,
      limits: options.limits,
      onDenial: (record) => {
        for (const sink of sinks) sink(record);
      },
      ...(secrets?.credentials && { credentials: secrets.credentials }),
      onError: (err) => process.stderr.write(`claude-bottle egress: internal error: ${String(err)}\n`),
    });
  } catch (err) {
    if (err instanceof PolicyError) fail(`invalid policy in ${options.policyFile}: ${err.message}`, 2);
    if (err instanceof CredentialError || err instanceof CaError) fail(`secrets on stdin: ${err.message}`, 2);
    fail(`cannot listen on ${options.listen.host}:${options.listen.port}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 1);
  }

  const { host, port, family } = proxy.address;
  process.stdout.write(`listening on ${family === "IPv6" ? `[${host}]` : host}:${port}\n`);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void proxy.close().then(() => {
      for (const close of closers) close();
      process.exit(0);
    });
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

// A fault in one connection must not take down every bottle's traffic.
process.on("uncaughtException", (err) => process.stderr.write(`claude-bottle egress: internal error: ${err.stack ?? String(err)}\n`));

main().catch((err: unknown) => fail(`internal error: ${(err as Error).stack ?? String(err)}`, 1));
