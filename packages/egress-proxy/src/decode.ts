/**
 * Undoing the codings of an answer (Content-Encoding, and Transfer-Encoding other
 * than chunked) so its body can be scanned as the bytes a client would end up with.
 * A value compressed by the server is not the value's bytes: scanning the raw body
 * would pass it on, and any client can decompress it.
 */
import type { Transform } from "node:stream";
import zlib from "node:zlib";

const DECODERS: Readonly<Record<string, () => Transform>> = {
  gzip: () => zlib.createGunzip(),
  "x-gzip": () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

/** The codings a header lists, in the order they were applied, lower-cased; `identity` and `chunked` need no undoing. */
function codingsOf(values: readonly string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((v) => v.split(","))
    .map((v) => v.trim().toLowerCase())
    .filter((v) => v !== "" && v !== "identity" && v !== "chunked");
}

export type Decoding = { ok: true; codings: string[]; decoders: Transform[] } | { ok: false; coding: string };

/**
 * The decoders for an answer's body, in the order to pipe through: the transfer
 * codings were applied last, so they come off first; each list from its end.
 */
export function decodingFor(headers: NodeJS.Dict<string[]>): Decoding {
  const codings = [...codingsOf(headers["content-encoding"]), ...codingsOf(headers["transfer-encoding"])];
  const unknown = codings.find((c) => DECODERS[c] === undefined);
  if (unknown !== undefined) return { ok: false, coding: unknown };
  return { ok: true, codings, decoders: [...codings].reverse().map((c) => DECODERS[c]!()) };
}
