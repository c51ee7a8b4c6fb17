/** Escape sequences: CSI (`ESC [ ... final`), OSC (`ESC ] ... BEL|ST`), and two-character escapes. */
const ESCAPE_SEQUENCE = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])/g;
/** C0 controls but tab and newline, DEL, and C1 controls (U+0080-U+009F, where 0x9B is a one-byte CSI). */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/**
 * Text from the project (agent files, paths, build output, a backend's
 * messages) with every escape sequence and control character removed, so a
 * file written by a stranger cannot move the cursor, rewrite the lines of a
 * plan the user is approving, retitle the terminal or hide text.
 */
export function printable(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, "").replace(CONTROL, "");
}

/** The same, on one line: newlines and tabs become spaces (table cells, spinner text, plan fields). */
export function printableLine(text: string): string {
  return printable(text).replace(/[\n\t]/g, " ");
}
