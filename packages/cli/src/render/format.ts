/** `850 ms`, `12.3 s`, `2 min 5 s`: short enough for a spinner line and a table cell. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms - minutes * 60_000) / 1000)} s`;
}

const UNITS = ["B", "kB", "MB", "GB", "TB"];

/** Decimal units, as Docker prints them. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`;
}

/**
 * What a progress event says: its message, and `current/total` when it counts.
 * Counts above a kilobyte are taken to be bytes (what backends count: pushes, pulls).
 */
export function describeProgress(message: string, current?: number, total?: number): string {
  if (current === undefined) return message;
  const asText = (n: number) => (total !== undefined && total > 1024 ? formatBytes(n) : String(n));
  if (total === undefined || total <= 0) return `${message} ${asText(current)}`;
  const percent = Math.min(100, Math.floor((current / total) * 100));
  return `${message} ${asText(current)}/${asText(total)} (${percent}%)`;
}
