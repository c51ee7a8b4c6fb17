/**
 * Credential bindings: which value goes to which hosts, and what the bottle
 * holds instead. Validated once, with messages that name the binding and the
 * field, never a value.
 */
import { hostMatches, parseNamePattern, type HostPattern } from "@claude-bottle/core/egress-policy";

export interface CredentialBinding {
  /** The variable the bottle sees (with the placeholder in it), e.g. ANTHROPIC_API_KEY; used in messages. */
  env: string;
  /** Where the value may go: host names or `*.domain` patterns (optionally `:port`), as in a policy. Not IP addresses. */
  hosts: string[];
  /** What the bottle holds instead of the value: 8 to 1024 visible ASCII characters. */
  placeholder: string;
  /** The secret. Never in a message, a record or an error. */
  value: string;
}

export class CredentialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CredentialError";
  }
}

export interface CompiledBinding {
  env: string;
  hosts: HostPattern[];
  placeholder: string;
  value: string;
}

const ENV = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PLACEHOLDER = /^[\x21-\x7e]{8,1024}$/;
/** What Node lets into a header value: no control characters but tab. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]+$/;

/** Validates bindings; messages name the binding and field, never a value. */
export function compileBindings(input: unknown): CompiledBinding[] {
  if (!Array.isArray(input)) throw new CredentialError("credentials must be a list of { env, hosts, placeholder, value }");
  const out: CompiledBinding[] = [];
  for (const [i, raw] of input.entries()) {
    const where = `credentials[${i}]`;
    if (typeof raw !== "object" || raw === null) throw new CredentialError(`${where} must be an object { env, hosts, placeholder, value }`);
    const b = raw as Record<string, unknown>;
    for (const key of Object.keys(b)) {
      if (!["env", "hosts", "placeholder", "value"].includes(key)) throw new CredentialError(`${where}.${key} is not a binding field (env, hosts, placeholder, value)`);
    }
    if (typeof b.env !== "string" || !ENV.test(b.env)) throw new CredentialError(`${where}.env must be a variable name`);
    const name = `${where} (${b.env})`;
    if (out.some((o) => o.env === b.env)) throw new CredentialError(`${name}: ${b.env} is bound twice`);
    if (!Array.isArray(b.hosts) || b.hosts.length === 0) throw new CredentialError(`${name}.hosts must be a non-empty list of host names`);
    const hosts = b.hosts.map((h: unknown, j) => {
      const parsed = parseNamePattern(h as string);
      if (typeof parsed === "string") throw new CredentialError(`${name}.hosts[${j}]: ${parsed}`);
      return parsed;
    });
    if (typeof b.placeholder !== "string" || !PLACEHOLDER.test(b.placeholder)) {
      throw new CredentialError(`${name}.placeholder must be 8 to 1024 visible ASCII characters`);
    }
    if (typeof b.value !== "string" || !HEADER_VALUE.test(b.value)) {
      throw new CredentialError(`${name}.value must be a non-empty string without control characters (it goes into a header)`);
    }
    if (b.value === b.placeholder) throw new CredentialError(`${name}: the value and the placeholder are the same`);
    for (const other of out) {
      if (other.placeholder.includes(b.placeholder) || b.placeholder.includes(other.placeholder)) {
        throw new CredentialError(`${name}: its placeholder and that of ${other.env} overlap; each must be distinct`);
      }
    }
    out.push({ env: b.env, hosts, placeholder: b.placeholder, value: b.value });
  }
  return out;
}

/** The bindings whose hosts include this one. */
export function bindingsFor(bindings: readonly CompiledBinding[], host: string, port: number): CompiledBinding[] {
  return bindings.filter((b) => b.hosts.some((p) => hostMatches(p, host, port)));
}
