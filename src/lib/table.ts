/**
 * Plain-text tables, one layout for the device's show output and the lab's
 * terminal tables: a header row, a dashed rule, columns as wide as their
 * widest cell, two spaces between columns, no trailing blanks.
 */

/**
 * The table's lines (header, rule, one line per row). A missing cell prints
 * empty. Plain loops: a lab's status is 10,000 rows of 13 cells, rendered
 * per request.
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((h) => h.length);
  for (const r of rows)
    for (let i = 0; i < widths.length; i++) {
      const n = (r[i] ?? '').length;
      if (n > widths[i]!) widths[i] = n;
    }
  const line = (cells: readonly string[]) => {
    let s = '';
    for (let i = 0; i < cells.length; i++) s += (i ? '  ' : '') + (cells[i] ?? '').padEnd(widths[i] ?? 0);
    return s.trimEnd();
  };
  const out = [line(headers), line(widths.map((w) => '-'.repeat(w)))];
  for (const r of rows) out.push(line(r));
  return out;
}
