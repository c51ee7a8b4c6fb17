/**
 * The per-bottle CA: an ECDSA P-256 key and a self-signed certificate, name-constrained
 * to the bound hosts, and leaf certificates for those hosts, made on demand and kept.
 *
 * Node has keys and signatures (node:crypto) but no X.509 writer; the two certificate
 * shapes needed here are fixed, so they are written with the few DER encoders below
 * (see the README for the libraries measured and why none is bundled). Every
 * certificate is read back by OpenSSL (crypto.X509Certificate, TLS) in the tests.
 */
import crypto from "node:crypto";
import tls from "node:tls";
import { parseNamePattern } from "@claude-bottle/core/egress-policy";

// ---- DER, the subset a certificate needs ----------------------------------------

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV: `tag`, then the length, then the parts. */
function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const seq = (...parts: Buffer[]) => tlv(0x30, ...parts);
const set = (...parts: Buffer[]) => tlv(0x31, ...parts);
const octets = (bytes: Buffer) => tlv(0x04, bytes);
const utf8 = (text: string) => tlv(0x0c, Buffer.from(text, "utf8"));
const TRUE = Buffer.from([0x01, 0x01, 0xff]);

/** A non-negative INTEGER from its big-endian bytes. */
function uint(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return tlv(0x02, (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split(".").map(Number);
  const bytes = [a * 40 + b];
  for (const arc of rest) {
    const groups: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      groups.unshift((v % 128) | (groups.length > 0 ? 0x80 : 0));
      if (v < 128) break;
    }
    bytes.push(...groups);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** BIT STRING with no unused bits (signatures, key identifiers). */
const bits = (bytes: Buffer) => tlv(0x03, Buffer.from([0]), bytes);

/** A named-bit BIT STRING (KeyUsage): bit 0 is the high bit of the first byte; DER drops trailing zero bits. */
function namedBits(...set: number[]): Buffer {
  const last = Math.max(...set);
  const bytes = Buffer.alloc((last >> 3) + 1);
  for (const bit of set) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return tlv(0x03, Buffer.from([7 - (last & 7)]), bytes);
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14); // YYYYMMDDHHMMSS
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

/** [n] EXPLICIT / constructed context tag, and [n] IMPLICIT primitive. */
const explicit = (n: number, ...parts: Buffer[]) => tlv(0xa0 | n, ...parts);
const implicit = (n: number, bytes: Buffer) => tlv(0x80 | n, bytes);
const dnsName = (host: string) => implicit(2, Buffer.from(host, "ascii"));

const OID = {
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  nameConstraints: "2.5.29.30",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
};

function name(commonName: string): Buffer {
  return seq(
    set(seq(oid(OID.organization), utf8("claude-bottle"))),
    set(seq(oid(OID.commonName), utf8(commonName))),
  );
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), TRUE, octets(value)) : seq(oid(id), octets(value));
}

/** SubjectKeyIdentifier: SHA-1 of the whole SubjectPublicKeyInfo (RFC 7093 allows any such hash). */
function keyId(spki: Buffer): Buffer {
  return crypto.createHash("sha1").update(spki).digest();
}

function serial(): Buffer {
  const bytes = crypto.randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive, never zero
  return bytes;
}

function signed(tbs: Buffer, key: crypto.KeyObject): Buffer {
  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const signature = crypto.sign("sha256", tbs, { key, dsaEncoding: "der" });
  return seq(tbs, algorithm, bits(signature));
}

function tbsCertificate(fields: {
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  extensions: Buffer[];
}): Buffer {
  return seq(
    explicit(0, uint(Buffer.from([2]))), // v3
    uint(serial()),
    seq(oid(OID.ecdsaWithSha256)),
    fields.issuer,
    seq(time(fields.notBefore), time(fields.notAfter)),
    fields.subject,
    fields.spki,
    explicit(3, seq(...fields.extensions)),
  );
}

function pem(der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}

// ---- The CA ------------------------------------------------------------------------

export interface BottleCa {
  /** The CA certificate (PEM): the one file the bottle gets, to trust. */
  certPem: string;
  /** Its private key (PKCS#8 PEM): for the proxy only, through its stdin. */
  keyPem: string;
}

export interface BottleCaOptions {
  /**
   * The bound hosts (`api.example.com`, `*.example.com`). The CA is then
   * name-constrained to them: a certificate it signs for any other name, or for any
   * IP address, fails verification. Without hosts the CA is not constrained.
   */
  hosts?: readonly string[];
  /** Shown in the subject, e.g. the bottle's name. Default "bottle". */
  label?: string;
  /** Default 365 days. */
  validityDays?: number;
  /** Clock; default now. */
  now?: Date;
}

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;

/** The DNS name a bound host contributes to the CA's name constraints: `*.example.com` permits example.com and below. */
function constraintName(host: string): string {
  const parsed = parseNamePattern(host);
  if (typeof parsed === "string") throw new TypeError(`${parsed} (a bound host is a name or *.domain pattern)`);
  return parsed.host;
}

/**
 * Makes a bottle's CA: an ECDSA P-256 key and a self-signed CA certificate
 * (pathLen 0, keyCertSign), name-constrained (critical) to `hosts` when given, with
 * every IPv4 and IPv6 address excluded.
 */
export function createBottleCa(options: BottleCaOptions = {}): BottleCa {
  const now = options.now ?? new Date();
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  const subject = name(`claude-bottle CA for ${options.label ?? "bottle"}`);
  const extensions = [
    extension(OID.basicConstraints, true, seq(TRUE, uint(Buffer.from([0])))),
    extension(OID.keyUsage, true, namedBits(5, 6)), // keyCertSign, cRLSign
    extension(OID.subjectKeyIdentifier, false, octets(keyId(spki))),
  ];
  if (options.hosts !== undefined) {
    const names = [...new Set(options.hosts.map(constraintName))];
    const subtree = (base: Buffer) => seq(base);
    const permitted = explicit(0, ...names.map((n) => subtree(dnsName(n))));
    // iPAddress [7]: address and mask; all zeroes is the whole of IPv4 (8 bytes) or IPv6 (32).
    const excluded = explicit(1, subtree(implicit(7, Buffer.alloc(8))), subtree(implicit(7, Buffer.alloc(32))));
    extensions.push(extension(OID.nameConstraints, true, seq(names.length > 0 ? permitted : Buffer.alloc(0), excluded)));
  }
  const tbs = tbsCertificate({
    issuer: subject,
    subject,
    notBefore: new Date(now.getTime() - HOUR_MS),
    notAfter: new Date(now.getTime() + (options.validityDays ?? 365) * DAY_MS),
    spki,
    extensions,
  });
  return {
    certPem: pem(signed(tbs, privateKey)),
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  };
}

// ---- Leaves ------------------------------------------------------------------------

export class CaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CaError";
  }
}

/** A bottle CA read back, checked, and ready to sign. */
export interface LoadedCa {
  cert: crypto.X509Certificate;
  key: crypto.KeyObject;
  subject: Buffer;
  keyId: Buffer;
}

/** Reads a CA (PEM cert and key) and checks that it is a CA, an EC key, and that the two belong together. */
export function loadCa(ca: BottleCa): LoadedCa {
  let cert: crypto.X509Certificate;
  let key: crypto.KeyObject;
  try {
    cert = new crypto.X509Certificate(ca.certPem);
  } catch {
    throw new CaError("the CA certificate is not a PEM certificate");
  }
  try {
    key = crypto.createPrivateKey(ca.keyPem);
  } catch {
    throw new CaError("the CA key is not a PEM private key");
  }
  if (!cert.ca) throw new CaError("the CA certificate is not a CA (basicConstraints cA is not set)");
  if (key.asymmetricKeyType !== "ec") throw new CaError(`the CA key must be ECDSA (P-256), not ${key.asymmetricKeyType}`);
  if (!cert.checkPrivateKey(key)) throw new CaError("the CA key does not belong to the CA certificate");
  const spki = cert.publicKey.export({ type: "spki", format: "der" });
  return { cert, key, subject: subjectOf(cert.raw), keyId: keyId(spki) };
}

/** The subject Name of a certificate, as DER (the issuer of what it signs). */
function subjectOf(der: Buffer): Buffer {
  // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version, serial, sigAlg, issuer, validity, subject, ... } }
  const children = (buf: Buffer): Buffer[] => {
    const out: Buffer[] = [];
    let at = headerLength(buf, 0);
    while (at < buf.length) {
      const size = headerLength(buf, at) + contentLength(buf, at);
      out.push(buf.subarray(at, at + size));
      at += size;
    }
    return out;
  };
  const [tbs] = children(der);
  const fields = children(tbs!);
  const subject = fields[5];
  if (subject === undefined) throw new CaError("the CA certificate could not be read");
  return subject;
}

function headerLength(buf: Buffer, at: number): number {
  const first = buf[at + 1]!;
  return first < 0x80 ? 2 : 2 + (first & 0x7f);
}

function contentLength(buf: Buffer, at: number): number {
  const first = buf[at + 1]!;
  if (first < 0x80) return first;
  let n = 0;
  for (let i = 0; i < (first & 0x7f); i++) n = n * 256 + buf[at + 2 + i]!;
  return n;
}

/** Signs a leaf certificate for one host name: serverAuth, SAN = the host, a fresh P-256 key. */
export function issueLeaf(ca: LoadedCa, host: string, now: Date, validityMs: number): { certPem: string; keyPem: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  const caEnd = new Date(ca.cert.validTo).getTime();
  const tbs = tbsCertificate({
    issuer: ca.subject,
    subject: name(host),
    notBefore: new Date(now.getTime() - HOUR_MS),
    notAfter: new Date(Math.min(now.getTime() + validityMs, caEnd)),
    spki,
    extensions: [
      extension(OID.basicConstraints, true, seq()),
      extension(OID.keyUsage, true, namedBits(0)), // digitalSignature
      extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))),
      extension(OID.subjectAltName, false, seq(dnsName(host))),
      extension(OID.subjectKeyIdentifier, false, octets(keyId(spki))),
      extension(OID.authorityKeyIdentifier, false, seq(implicit(0, ca.keyId))),
    ],
  });
  return { certPem: pem(signed(tbs, ca.key)), keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string };
}

/**
 * TLS server contexts for bound hosts, one leaf each, made on first use and kept
 * until a day before it ends (leaves live 7 days, never past the CA).
 */
export function leafContexts(ca: LoadedCa, now: () => Date = () => new Date()): (host: string) => tls.SecureContext {
  const kept = new Map<string, { context: tls.SecureContext; renewAt: number }>();
  const validityMs = 7 * DAY_MS;
  return (host) => {
    const at = now();
    const hit = kept.get(host);
    if (hit && hit.renewAt > at.getTime()) return hit.context;
    const leaf = issueLeaf(ca, host, at, validityMs);
    const context = tls.createSecureContext({ cert: leaf.certPem, key: leaf.keyPem, minVersion: "TLSv1.2" });
    kept.set(host, { context, renewAt: at.getTime() + validityMs - DAY_MS });
    return context;
  };
}
