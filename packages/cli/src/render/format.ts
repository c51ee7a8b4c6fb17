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

/** `just now`, `5 minutes ago`, `3 days ago`: how `docker ps` shows age. */
export function formatAge(iso: string, now = Date.now()): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  const [value, unit] =
    seconds < 60
      ? [seconds, "second"]
      : seconds < 3600
        ? [Math.floor(seconds / 60), "minute"]
        : seconds < 172_800
          ? [Math.floor(seconds / 3600), "hour"]
          : [Math.floor(seconds / 86_400), "day"];
  if (unit === "second" && value < 5) return "just now";
  return `${value} ${unit}${value === 1 ? "" : "s"} ago`;
}
