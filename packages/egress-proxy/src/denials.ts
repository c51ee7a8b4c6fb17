/**
 * Denial records: one JSON object per refused request, so a user can learn what to
 * add to a policy. A record holds the target and the reason only, never a request
 * header or body: credentials pass through this proxy.
 */
import fs from "node:fs";
import { formatDenial, type DenialRecord } from "@claude-bottle/core/egress-policy";

export type DenialSink = (record: DenialRecord) => void;

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
      if (open) fs.writeSync(fd, formatDenial(record));
    },
    close() {
      if (open) fs.closeSync(fd);
      open = false;
    },
  };
}
