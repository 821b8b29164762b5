/**
 * Plain-text tables, one layout for the device's show output and the lab's
 * terminal tables: a header row, a dashed rule, columns as wide as their
 * widest cell, two spaces between columns, no trailing blanks.
 */

/** The table's lines (header, rule, one line per row). A missing cell prints empty. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}
