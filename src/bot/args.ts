import { accountNameProblem, MAX_NAME_LENGTH } from "../accounts/names.js";
import { parseSize } from "../accounts/sizes.js";
import { PROTOCOLS, type Protocol } from "../store/store.js";
import { echo } from "./html.js";
import type { Translate } from "./locales.js";

/**
 * Splits a command's argument text (what follows `/limit`) into words on any whitespace.
 * Never throws; at most `max` words are returned, so a 10 KB message costs little.
 */
export function splitArgs(text: string, max = 8): string[] {
  const words: string[] = [];
  for (const w of text.trim().split(/\s+/)) {
    if (w === "") continue;
    words.push(w);
    if (words.length === max) break;
  }
  return words;
}

/**
 * Why `name` is not an account name, in the admin's language; null when it is one. The
 * verdict is `accountNameProblem`'s; the wording here names the first offending character.
 */
export function nameProblem(t: Translate, name: string): string | null {
  if (accountNameProblem(name) === null) return null;
  const length = Array.from(name).length;
  if (length === 0) return t("name-empty");
  if (name.length > MAX_NAME_LENGTH) {
    return t("name-too-long", { length: String(length), max: String(MAX_NAME_LENGTH) });
  }
  for (const ch of name) {
    if (/^[a-z0-9._-]$/.test(ch)) continue;
    if (/^[A-Z]$/.test(ch)) return t("name-uppercase", { char: ch, lower: ch.toLowerCase() });
    return t("name-bad-char", { char: echo(printable(ch), 8) });
  }
  return t("name-bad-start");
}

/** A character as it can be shown: control and invisible characters as `U+XXXX`. */
function printable(ch: string): string {
  return /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(ch)
    ? ch
    : `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}

export type SizeAnswer = { ok: true; bytes: number | null } | { ok: false; problem: string };

/** Parses a quota as sellers type it (`5GB`, `500mb`, `unlimited`); the problem is localized. */
export function parseLimit(t: Translate, text: string): SizeAnswer {
  const input = text.trim();
  if (["∞", "-", "no", "tidak", "unlimited", "tanpa batas"].includes(input.toLowerCase())) {
    return { ok: true, bytes: null };
  }
  try {
    return { ok: true, bytes: parseSize(input) };
  } catch {
    return { ok: false, problem: t("size-invalid", { input: echo(input, 20) }) };
  }
}

/** Longest validity the bot accepts, in days (ten years). */
export const MAX_DAYS = 3650;

export type DaysAnswer = { ok: true; days: number | null } | { ok: false; problem: string };

/** Parses days of validity: a whole number 1–3650, or `0` for never expiring. */
export function parseDays(t: Translate, text: string): DaysAnswer {
  const input = text.trim();
  if (!/^\d{1,5}$/.test(input)) return { ok: false, problem: t("days-invalid", { max: MAX_DAYS }) };
  const n = Number(input);
  if (n === 0) return { ok: true, days: null };
  if (n > MAX_DAYS) return { ok: false, problem: t("days-invalid", { max: MAX_DAYS }) };
  return { ok: true, days: n };
}

/** Shortest and longest SSH password accepted from an admin. */
export const PASSWORD_MIN = 4;
export const PASSWORD_MAX = 64;

/** Why `text` cannot be an SSH password (printable ASCII, no spaces), or null. */
export function passwordProblem(t: Translate, text: string): string | null {
  if (text.length < PASSWORD_MIN || text.length > PASSWORD_MAX) {
    return t("password-length", { min: PASSWORD_MIN, max: PASSWORD_MAX });
  }
  if (!/^[\x21-\x7e]+$/.test(text)) return t("password-chars");
  return null;
}

/** The protocol named by `text` (`vless`, `VLESS`, `ss`), or null. */
export function parseProtocol(text: string): Protocol | null {
  const p = text.trim().toLowerCase();
  if (p === "ss") return "shadowsocks";
  return PROTOCOLS.find((x) => x === p) ?? null;
}
