/**
 * Denial records: one JSON object per refused request, so a user can learn what to
 * add to a policy. A record holds the target and the reason only, never a request
 * header or body: credentials pass through this proxy.
 */
import fs from "node:fs";
import type { RefusalReason } from "./policy.js";

export interface DenialRecord {
  /** ISO 8601, from the proxy's clock. */
  time: string;
  /** The host as the proxy compared it: lowercase, no trailing dot, IPv6 without brackets; "" when the request named none it could read. */
  host: string;
  /** Null when the request named no port it could read. */
  port: number | null;
  /** Stable code (RefusalReason): not-allowed, denied, ip-literal, blocked-address, resolve-failed, credential-misuse, and for requests refused before the policy: bad-request, host-mismatch, smuggling, header-too-large, header-timeout, too-many-connections. */
  reason: RefusalReason;
  /** The sentence the client got in its answer's body. */
  detail: string;
}

export type DenialSink = (record: DenialRecord) => void;

/** One line of JSON per record. */
export function denialLine(record: DenialRecord): string {
  const { time, host, port, reason, detail } = record;
  return `${JSON.stringify({ time, host, port, reason, detail })}\n`;
}

export interface FileDenialSink {
  sink: DenialSink;
  close(): void;
}

/**
 * Appends records as JSON lines to `path`, which is created with mode 0600 when
 * missing. Each record is one write to a file opened for appending, so lines from
 * concurrent writers do not interleave.
 */
export function appendDenialsTo(path: string): FileDenialSink {
  const fd = fs.openSync(path, "a", 0o600);
  let open = true;
  return {
    sink(record) {
      if (open) fs.writeSync(fd, denialLine(record));
    },
    close() {
      if (open) fs.closeSync(fd);
      open = false;
    },
  };
}
