/** Short figures for narrow live columns. */

const UNITS = ["B", "K", "M", "G", "T", "P"];

/**
 * Bytes in at most five characters with binary units (K = 1024), three significant digits:
 * `512B`, `1.50K`, `12.3M`, `100G`. Negative or non-finite input reads `0B`.
 */
export function compactBytes(bytes: number): string {
  let v = Number.isFinite(bytes) && bytes > 0 ? bytes : 0;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${Math.round(v)}B`;
  for (const digits of [2, 1]) {
    const text = v.toFixed(digits);
    if (text.length <= 4) return `${text}${UNITS[i]}`;
  }
  return `${Math.round(v)}${UNITS[i]}`;
}

/** A rate in bytes per second, or `-` while it is not known yet. */
export function compactRate(bytesPerS: number | null): string {
  return bytesPerS === null ? "-" : compactBytes(bytesPerS);
}

/** Seconds as the largest two units: `45s`, `12m05s`, `3h07m`, `12d04h`. */
export function compactDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (d > 0) return `${d}d${pad(h)}h`;
  if (h > 0) return `${h}h${pad(m)}m`;
  if (m > 0) return `${m}m${pad(s % 60)}s`;
  return `${s}s`;
}
