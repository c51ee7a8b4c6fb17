/**
 * Placeholders and values in header values, both ways. A placeholder is
 * found where the bottle wrote it, and also inside a `Basic` authorization
 * (base64 of `user:password`), which is how git sends a token over HTTPS:
 * there it is decoded, replaced and encoded again. Only the headers of a
 * request to a bound host come here, so only those hosts ever get a value.
 */
import type { CompiledBinding } from "./bindings.js";

/** `Basic <base64>`, as RFC 7617 writes it: the scheme in any case, one token of base64. */
const BASIC = /^(basic)([ \t]+)([A-Za-z0-9+/]+={0,2})([ \t]*)$/i;

/** The request's header value with each binding's placeholder replaced by its value, in plain text or in Basic. */
export function injectValues(text: string, bindings: readonly CompiledBinding[]): string {
  const replaced = replaceAll(text, bindings.map((b) => [b.placeholder, b.value] as const));
  const basic = BASIC.exec(replaced);
  if (!basic) return replaced;
  const decoded = Buffer.from(basic[3]!, "base64").toString("latin1");
  // Not the base64 of what it decodes to (stray bits, a cut-off group): passed on as the bottle wrote it.
  if (Buffer.from(decoded, "latin1").toString("base64") !== basic[3]) return replaced;
  const inner = replaceAll(decoded, bindings.map((b) => [b.placeholder, b.value] as const));
  if (inner === decoded) return replaced;
  // Latin-1 both ways, as Node reads header values: every byte of the user name comes back as it was.
  return `${basic[1]}${basic[2]}${Buffer.from(inner, "latin1").toString("base64")}${basic[4]}`;
}

/** An answer's header value (or status text) with each binding's value turned back into its placeholder. */
export function scrubValues(text: string, bindings: readonly CompiledBinding[]): string {
  return replaceAll(text, bindings.map((b) => [b.value, b.placeholder] as const));
}

/** Replaces each pair's `from` with its `to`. */
function replaceAll(text: string, pairs: readonly (readonly [string, string])[]): string {
  let out = text;
  for (const [from, to] of pairs) if (out.includes(from)) out = out.split(from).join(to);
  return out;
}
