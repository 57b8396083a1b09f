/**
 * Changing when an account stops working: a renewal adds days to what is left (or to today when
 * it has run out), a date sets it outright, `never` removes it. The store holds the instant
 * enforcement acts on; an SSH account's Linux user gets the same date (`chage -E`), so sshd and
 * Dropbear refuse it on that day even while the worker is down.
 */
import { ApiError } from "../control/api-error.js";
import { CommandFailedError } from "../core/errors.js";
import { localDate } from "../core/time.js";
import type { LifecycleDeps } from "./deps.js";
import type { ExpiryRequest } from "./requests.js";
import { deletionTarget } from "./delete.js";
import { firstLine, runWithPasswdLock } from "./run.js";
import { passwdEntry } from "./linux-user.js";

/** Local midnight starting `date` (YYYY-MM-DD), the first instant the account no longer works. */
function startOfLocalDay(date: string): Date {
  const [y, m, d] = date.split("-").map(Number) as [number, number, number];
  return new Date(y, m - 1, d);
}

/**
 * The new expiry for a request: `{ date, instant }` (local date YYYY-MM-DD for chage, ISO instant
 * for the store) or null for never. `days` counts from the current expiry when it is still ahead,
 * so renewing early loses nothing, otherwise from today (like creating the account).
 * @throws ApiError 400 when a date given outright is not after today
 */
export function newExpiry(
  current: string | null,
  request: ExpiryRequest,
  now: Date,
): { date: string; instant: string } | null {
  if ("never" in request) return null;
  if ("date" in request) {
    const end = startOfLocalDay(request.date);
    if (end.getTime() <= now.getTime()) {
      throw new ApiError(
        400,
        "bad_expiry",
        `${request.date} is not after today: the account would stop at once`,
        "to end an account now, delete it",
      );
    }
    return { date: request.date, instant: end.toISOString() };
  }
  const currentEnd = current === null ? null : new Date(current);
  const base = currentEnd !== null && currentEnd.getTime() > now.getTime() ? currentEnd : now;
  const end = new Date(base.getFullYear(), base.getMonth(), base.getDate() + request.days);
  return { date: localDate(end), instant: end.toISOString() };
}

/**
 * Sets an account's expiry: the Linux user's first (SSH), then the store's, so a failure leaves
 * the store as it was. Returns the instant set, or null for never.
 * @throws ApiError 400/404 or OperatorError (409) when refused; CommandFailedError when chage fails
 */
export async function setAccountExpiry(
  deps: LifecycleDeps,
  name: string,
  request: ExpiryRequest,
): Promise<string | null> {
  const { account } = await deletionTarget(deps, name, "renew");
  const expiry = newExpiry(account.expiresAt, request, new Date());
  // chage edits /etc/shadow: a user only in KUOTA_PASSWD_FILE (or removed by hand) has no date.
  if (account.protocol === "ssh" && (await passwdEntry(account.name)) !== null) {
    // -1 removes the account expiry date.
    const result = await runWithPasswdLock("chage", ["-E", expiry?.date ?? "-1", "--", name]);
    if (result.exitCode !== 0) throw new CommandFailedError("chage", firstLine(result));
  }
  const instant = expiry?.instant ?? null;
  await deps.store.setExpiry(account.name, instant, new Date().toISOString());
  deps.log.info({ user: account.name, expiresAt: instant }, "expiry set");
  return instant;
}
