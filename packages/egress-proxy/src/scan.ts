/**
 * Finding (and replacing) a few byte strings in a stream whose chunks may split them.
 * What `push` hands back never ends with the start of a pattern, so a pattern is
 * always seen whole before any of its bytes are passed on.
 */

export class StreamMatcher {
  private pending: Buffer = Buffer.alloc(0);
  private readonly longest: number;
  private readonly firstBytes: Set<number>;

  /**
   * @param patterns what to look for (non-empty, none inside another)
   * @param replacements when given, `replacements[i]` takes the place of `patterns[i]`
   */
  constructor(
    private readonly patterns: readonly Buffer[],
    private readonly replacements?: readonly Buffer[],
  ) {
    this.longest = Math.max(0, ...patterns.map((p) => p.length));
    this.firstBytes = new Set(patterns.map((p) => p[0]!));
  }

  /**
   * Takes the next chunk. `out`: the bytes that can be passed on now (with
   * replacements made); `found`: the index of the first pattern seen in this chunk,
   * or -1. Without replacements, `out` stops before the first pattern found.
   */
  push(chunk: Buffer): { out: Buffer; found: number } {
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const parts: Buffer[] = [];
    let found = -1;
    let at = 0;
    for (;;) {
      let best = -1;
      let which = -1;
      for (const [i, pattern] of this.patterns.entries()) {
        const index = data.indexOf(pattern, at);
        if (index !== -1 && (best === -1 || index < best)) {
          best = index;
          which = i;
        }
      }
      if (best === -1) break;
      if (found === -1) found = which;
      parts.push(data.subarray(at, best));
      if (this.replacements === undefined) {
        this.pending = Buffer.alloc(0);
        return { out: Buffer.concat(parts), found };
      }
      parts.push(this.replacements[which]!);
      at = best + this.patterns[which]!.length;
    }
    const rest = data.subarray(at);
    const hold = this.holdBack(rest);
    parts.push(rest.subarray(0, rest.length - hold));
    this.pending = Buffer.from(rest.subarray(rest.length - hold));
    return { out: parts.length === 1 ? parts[0]! : Buffer.concat(parts), found };
  }

  /** The bytes held back at the end of the stream (the start of a pattern that never completed). */
  end(): Buffer {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest;
  }

  /** How many bytes at the end of `data` are the start of some pattern (and so must wait). */
  private holdBack(data: Buffer): number {
    for (let k = Math.min(data.length, this.longest - 1); k > 0; k--) {
      if (!this.firstBytes.has(data[data.length - k]!)) continue;
      const tail = data.subarray(data.length - k);
      if (this.patterns.some((p) => p.length > k && tail.equals(p.subarray(0, k)))) return k;
    }
    return 0;
  }
}

/** Whether `text` holds any of `patterns`; the index of the first one, or -1. */
export function findIn(text: string, patterns: readonly string[]): number {
  return patterns.findIndex((p) => text.includes(p));
}
