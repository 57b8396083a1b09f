/**
 * Data quotas as sellers type them (`500MB`, `5GB`, `1.5GB`, `10G`, `unlimited`) and as kuota
 * prints them. Every unit is binary: KB = KiB = 1024 bytes, MB = 1024^2, GB = 1024^3, TB = 1024^4,
 * because that is what sellers' panels mean by GB. Output uses the IEC names (`1.50 GiB`) so the
 * printed figure cannot be misread as decimal.
 */
import { UsageError } from "../core/errors.js";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

const SIZE_HINT =
  "write a size like 500MB, 5GB, 1.5GB, or 0/unlimited for no limit (GB = 1024^3 bytes)";

/**
 * Parses a quota. A bare number is bytes; fractions of a byte are rounded to the nearest byte.
 * Case and a space before the unit do not matter (`5 gb`).
 * @returns bytes, or null for no limit (`0` in any unit, `unlimited`)
 * @throws UsageError with a one-line reason for negatives, unknown units, decimal commas,
 *   exponents and sizes beyond 2^53 bytes
 */
export function parseSize(text: string): number | null {
  const input = text.trim().toLowerCase();
  if (input === "unlimited") return null;
  if (input === "") throw new UsageError("the size is empty", SIZE_HINT);
  if (input.startsWith("-")) throw new UsageError(`"${text}" is negative`, SIZE_HINT);

  if (/^\d+,\d/.test(input)) {
    throw new UsageError(`"${text}" uses a decimal comma; use a dot (1.5GB)`, SIZE_HINT);
  }

  let end = 0;
  while (end < input.length && /[0-9.]/.test(input[end] ?? "")) end++;
  const number = input.slice(0, end);
  const unit = input.slice(end).trim();
  if (number === "" || !/^(\d+(\.\d*)?|\.\d+)$/.test(number)) {
    throw new UsageError(`"${text}" is not a size`, SIZE_HINT);
  }
  const multiplier = UNITS[unit];
  if (multiplier === undefined)
    throw new UsageError(`"${text}" has an unknown unit "${unit}"`, SIZE_HINT);

  const bytes = Math.round(Number(number) * multiplier);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`"${text}" is too large`, SIZE_HINT);
  return bytes === 0 ? null : bytes;
}

const LABELS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * Bytes for people: whole bytes below 1 KiB (`512 B`), else two decimals in the largest unit
 * that keeps the figure at or above 1 (`1.50 GiB`, `1023.99 MiB`). Null prints as `unlimited`.
 */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return "unlimited";
  const sign = bytes < 0 ? "-" : "";
  let value = Math.abs(bytes);
  if (value < 1024) return `${sign}${Math.round(value)} B`;
  let unit = 0;
  while (unit < LABELS.length - 1 && value >= 1024) {
    value /= 1024;
    unit++;
  }
  // 1023.999 MiB would print as "1024.00 MiB"; show it as the next unit instead.
  if (value.toFixed(2) === "1024.00" && unit < LABELS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${sign}${value.toFixed(2)} ${LABELS[unit]}`;
}
