import { accountNameProblem } from "../accounts/names.js";
import { PROTOCOLS, type Protocol } from "../store/store.js";
import { MAX_DAYS } from "./args.js";
import { LOCALES, type Locale } from "./locales.js";

/**
 * What an inline button asks for. Buttons carry at most 64 bytes of callback data, so
 * the forms are short: `u:<filter>:<page>`, `d:y:<name>`, `d:n:<name>`, `r:<days>:<name>`
 * (renew), `t:a:<name>` / `t:y:<name>` / `t:n:<name>` (top-up: ask, yes, no), `l:<locale>`,
 * `a:p:<protocol>`, `a:s:<size>`, `a:d:<days>`, `a:g` (generate a password), `noop`.
 */
export type CallbackAction =
  | { kind: "users"; filter: Protocol | "all"; page: number }
  | { kind: "delete"; confirm: boolean; name: string }
  | { kind: "renew"; days: number; name: string }
  | { kind: "topup"; step: "ask" | "yes" | "no"; name: string }
  | { kind: "language"; locale: Locale }
  | { kind: "noop" };

/** Highest page number accepted in callback data. */
const MAX_PAGE = 10_000;
const TOPUP_STEPS = { a: "ask", y: "yes", n: "no" } as const;

export const callbackData = {
  users: (filter: Protocol | "all", page: number) => `u:${filter}:${page}`,
  deleteConfirm: (name: string) => `d:y:${name}`,
  deleteCancel: (name: string) => `d:n:${name}`,
  renew: (days: number, name: string) => `r:${days}:${name}`,
  topUp: (step: "ask" | "yes" | "no", name: string) => `t:${step[0]}:${name}`,
  language: (locale: Locale) => `l:${locale}`,
  noop: () => "noop",
};

/**
 * Reads callback data from a button press. Anything not produced by `callbackData`
 * (old buttons, forged data, garbage) gives null; never throws.
 */
export function parseCallbackData(data: string): CallbackAction | null {
  if (data.length > 64) return null;
  if (data === "noop") return { kind: "noop" };
  const [head, a, b, ...rest] = data.split(":");
  if (rest.length > 0) return null;
  if (head === "u" && a !== undefined && b !== undefined && b.length <= 5 && /^\d+$/.test(b)) {
    const filter = a === "all" ? "all" : PROTOCOLS.find((p) => p === a);
    const page = Number(b);
    if (filter === undefined || page > MAX_PAGE) return null;
    return { kind: "users", filter, page };
  }
  if (head === "d" && (a === "y" || a === "n") && b !== undefined) {
    if (accountNameProblem(b) !== null) return null;
    return { kind: "delete", confirm: a === "y", name: b };
  }
  if (head === "r" && a !== undefined && /^[1-9]\d{0,3}$/.test(a) && b !== undefined) {
    const days = Number(a);
    if (days > MAX_DAYS || accountNameProblem(b) !== null) return null;
    return { kind: "renew", days, name: b };
  }
  if (head === "t" && (a === "a" || a === "y" || a === "n") && b !== undefined) {
    if (accountNameProblem(b) !== null) return null;
    return { kind: "topup", step: TOPUP_STEPS[a], name: b };
  }
  if (head === "l" && b === undefined) {
    const locale = LOCALES.find((l) => l === a);
    return locale ? { kind: "language", locale } : null;
  }
  return null;
}

/** Conversation buttons of /adduser: `a:p:vless`, `a:s:5GB`, `a:d:30`, `a:g`. */
export const addUserData = {
  protocol: (p: Protocol) => `a:p:${p}`,
  size: (s: string) => `a:s:${s}`,
  days: (d: number) => `a:d:${d}`,
  generate: () => "a:g",
};

/** The answer a /adduser button carries, or null when the data is not one. */
export function parseAddUserData(
  data: string,
): { step: "protocol" | "size" | "days"; value: string } | { step: "generate" } | null {
  if (data === "a:g") return { step: "generate" };
  const m = /^a:([psd]):([A-Za-z0-9.]{1,16})$/.exec(data);
  if (!m) return null;
  const step = m[1] === "p" ? "protocol" : m[1] === "s" ? "size" : "days";
  return { step, value: m[2] as string };
}
