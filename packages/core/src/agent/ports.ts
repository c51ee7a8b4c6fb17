/**
 * A port of the bottle published on the user's loopback (SECURITY.md point 9):
 * `127.0.0.1:host` and `[::1]:host` reach `bottle` inside, and no other
 * address of the machine does.
 */
export interface PublishedPort {
  host: number;
  bottle: number;
}

/** `3000` (the same port on both sides) or `HOST:BOTTLE` (`8080:3000`), as `ports:` and `--publish` take it. */
export const PUBLISH_PATTERN = "^(?:[0-9]{1,5}:)?[0-9]{1,5}$";

/** The port an entry of `ports:` or `--publish` names, or undefined when it names none (a port is 1 to 65535). */
export function parsePublishedPort(entry: number | string): PublishedPort | undefined {
  const text = String(entry);
  if (!new RegExp(PUBLISH_PATTERN).test(text)) return undefined;
  const [first, second] = text.split(":").map(Number) as [number, number | undefined];
  const port = { host: first, bottle: second ?? first };
  return isPort(port.host) && isPort(port.bottle) ? port : undefined;
}

/** The host port two entries both take, which only one of them can have. */
export function clashingHostPort(ports: readonly PublishedPort[]): number | undefined {
  const seen = new Set<number>();
  for (const { host } of ports) {
    if (seen.has(host)) return host;
    seen.add(host);
  }
  return undefined;
}

/** `http://127.0.0.1:HOST/`: what the user opens for a published port. */
export function publishedUrl(port: PublishedPort): string {
  return `http://127.0.0.1:${port.host}/`;
}

export function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 65535;
}

/** Every entry of `ports:` or `--publish` as a port; `fail` says which entry names none, or takes a host port another already has. */
export function publishedPortsOf(entries: readonly (number | string)[], fail: (index: number, problem: string) => never): PublishedPort[] {
  const ports = entries.map((entry, index) => parsePublishedPort(entry) ?? fail(index, `${JSON.stringify(entry)} is not a port (1 to 65535) or HOST:BOTTLE`));
  const clash = clashingHostPort(ports);
  if (clash !== undefined) fail(ports.map((p) => p.host).lastIndexOf(clash), `the host port ${clash} is published twice; each host port reaches one bottle port`);
  return ports;
}
