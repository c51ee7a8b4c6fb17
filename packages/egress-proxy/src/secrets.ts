/**
 * How the standalone proxy gets its secrets: the policy file holds the bindings
 * without values (`credentials: [{ env, hosts, placeholder }]`), and stdin, read to
 * its end at start, holds the values and the bottle's CA:
 *
 *   {"ca":{"certPem":"-----BEGIN CERTIFICATE-----…","keyPem":"-----BEGIN PRIVATE KEY-----…"},
 *    "values":{"ANTHROPIC_API_KEY":"sk-…"},
 *    "upstreamCa":"-----BEGIN CERTIFICATE-----…"}            (optional; tests)
 *
 * So a value is never on argv, in a file, or in the container's environment. Errors
 * name fields and variables, never a value, and never quote the document (JSON.parse
 * messages quote their input, so they are not passed on).
 */
import type { Readable } from "node:stream";
import type { CredentialBinding } from "./bindings.js";
import type { CredentialOptions } from "./credentials.js";
import type { BottleCa } from "./x509.js";

export class SecretsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretsError";
  }
}

/** A binding as the policy file has it. */
export type BindingWithoutValue = Omit<CredentialBinding, "value">;

export interface Secrets {
  /** Undefined when nothing is bound. */
  credentials: CredentialOptions | undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Takes `credentials` out of a policy file's object: the rest is the policy proper. Shapes are checked later. */
export function splitPolicy(file: unknown): { policy: unknown; bindings: BindingWithoutValue[] } {
  if (!isObject(file) || !("credentials" in file)) return { policy: file, bindings: [] };
  const { credentials, ...policy } = file;
  if (!Array.isArray(credentials)) throw new SecretsError("policy.credentials must be a list of { env, hosts, placeholder }");
  for (const [i, b] of credentials.entries()) {
    if (!isObject(b)) throw new SecretsError(`policy.credentials[${i}] must be an object { env, hosts, placeholder }`);
    if ("value" in b) throw new SecretsError(`policy.credentials[${i}].value: a value never goes in a file; write it on stdin (--secrets-from-stdin)`);
    if (typeof b.env !== "string") throw new SecretsError(`policy.credentials[${i}].env must be a variable name`);
  }
  return { policy, bindings: credentials as BindingWithoutValue[] };
}

/** Reads a stream to its end, giving up after `timeoutMs` (the backend closes stdin once it has written). */
function readAll(stream: Readable, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new SecretsError(`stdin was not closed within ${timeoutMs / 1000} s; write the document and close it`));
    }, timeoutMs);
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.once("end", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
    stream.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new SecretsError(`stdin could not be read (${err.code ?? "error"})`));
    });
  });
}

const KEYS = new Set(["ca", "values", "upstreamCa"]);

/** Reads the secrets document from `stream` and joins the values to the policy's bindings. */
export async function readSecrets(stream: Readable, bindings: readonly BindingWithoutValue[], timeoutMs = 30_000): Promise<Secrets> {
  const text = await readAll(stream, timeoutMs);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new SecretsError("the document is not JSON (its text is not shown: it holds secrets)");
  }
  if (!isObject(doc)) throw new SecretsError('the document must be an object {"ca":{…},"values":{…}}');
  for (const key of Object.keys(doc)) {
    if (!KEYS.has(key)) throw new SecretsError(`"${key}" is not a field of the document (ca, values, upstreamCa)`);
  }
  const values = doc.values ?? {};
  if (!isObject(values)) throw new SecretsError('"values" must be an object {"ENV": "value"}');
  for (const env of Object.keys(values)) {
    if (!bindings.some((b) => b.env === env)) throw new SecretsError(`values.${env}: the policy binds no credential ${env}`);
    if (typeof values[env] !== "string") throw new SecretsError(`values.${env} must be a string`);
  }
  for (const b of bindings) {
    if (!(b.env in values)) throw new SecretsError(`values.${b.env} is missing: the policy binds it`);
  }
  if (bindings.length === 0) return { credentials: undefined };
  const ca = doc.ca;
  if (!isObject(ca) || typeof ca.certPem !== "string" || typeof ca.keyPem !== "string") {
    throw new SecretsError('"ca" must be {"certPem": "…", "keyPem": "…"} (the bottle\'s CA, from createBottleCa)');
  }
  const upstreamCa = doc.upstreamCa;
  if (upstreamCa !== undefined && typeof upstreamCa !== "string" && !(Array.isArray(upstreamCa) && upstreamCa.every((c) => typeof c === "string"))) {
    throw new SecretsError('"upstreamCa" must be PEM text or a list of them');
  }
  return {
    credentials: {
      bindings: bindings.map((b) => ({ ...b, value: values[b.env] as string })),
      ca: { certPem: ca.certPem, keyPem: ca.keyPem } satisfies BottleCa,
      ...(upstreamCa !== undefined && { upstreamCa: upstreamCa as string | string[] }),
    },
  };
}
