/** Human figures for terminal output. */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** Bytes in binary units with two decimals above 1 KiB, e.g. `1.50 GiB`. */
export function formatBytes(bytes: number): string {
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(2)} ${UNITS[i]}`;
}

/** Renders rows as aligned columns (no colours: menus capture this output). */
export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}
