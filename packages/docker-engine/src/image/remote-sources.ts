/**
 * The URLs a Dockerfile's ADD steps name. The engine fetches those itself, from the
 * host's network, whatever network the build's steps are given: an agent whose build
 * runs under its network rules must fetch in RUN steps instead.
 */

/** A parser directive at the very top (`# escape=` followed by a backtick) changes the line-continuation character. */
function escapeCharOf(text: string): string {
  for (const line of text.split("\n")) {
    const directive = /^#\s*([a-z]+)\s*=\s*(\S+)\s*$/i.exec(line.trim());
    if (!directive) break;
    if (directive[1]!.toLowerCase() === "escape") return directive[2]!;
  }
  return "\\";
}

/** The instructions of a Dockerfile, continuation lines joined and comments dropped. */
function instructions(text: string): string[] {
  const escape = escapeCharOf(text);
  const out: string[] = [];
  let current = "";
  for (const raw of text.replace(/\r\n?/g, "\n").split("\n")) {
    const line = raw.trim();
    // A comment, also between continuation lines; an empty line inside a continuation is skipped too.
    if (line.startsWith("#") || (line === "" && current !== "")) continue;
    if (line.endsWith(escape)) {
      current += `${line.slice(0, -escape.length)} `;
      continue;
    }
    current += line;
    if (current.trim() !== "") out.push(current.trim());
    current = "";
  }
  if (current.trim() !== "") out.push(current.trim());
  return out;
}

/** The sources of an ADD's arguments (all but the destination), in JSON or shell form, without its --flags. */
function addSources(args: string): string[] {
  let list: string[];
  if (args.startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(args);
      list = Array.isArray(parsed) ? parsed.map(String) : [];
    } catch {
      list = args.split(/\s+/);
    }
  } else {
    list = args.split(/\s+/).filter((word) => !word.startsWith("--"));
  }
  return list.slice(0, -1);
}

/** A source the engine would fetch: any `scheme://`, or a `git@host:` address. */
function isRemote(source: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(source) || /^git@/i.test(source);
}

/** The remote sources of every ADD (also one under ONBUILD), in order. */
export function remoteAddSources(dockerfileText: string): string[] {
  const found: string[] = [];
  for (const instruction of instructions(dockerfileText)) {
    const match = /^(?:onbuild\s+)?add\s+(.*)$/is.exec(instruction);
    if (match) found.push(...addSources(match[1]!.trim()).filter(isRemote));
  }
  return found;
}
