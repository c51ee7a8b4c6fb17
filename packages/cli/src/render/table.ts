import { printableLine } from "./printable.js";

/**
 * Columns padded to their widest cell, two spaces apart, like `docker ps`.
 * Columns listed in `alignRight` (numbers) are padded on the left.
 */
export function formatTable(
  header: readonly string[],
  untrustedRows: readonly (readonly string[])[],
  alignRight: readonly number[] = [],
): string {
  // Cells hold names, paths and descriptions from project files: never control characters.
  const rows = untrustedRows.map((row) => row.map(printableLine));
  const widths = header.map((h, column) => Math.max(h.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (alignRight.includes(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd();
  return `${[header, ...rows].map(line).join("\n")}\n`;
}
