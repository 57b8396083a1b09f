/**
 * Checks the bodies and names the control API receives for the account lifecycle. Every refusal
 * is an ApiError 400 with a one-line reason and the fix, raised before anything is touched.
 */
import { ApiError } from "../control/api-error.js";
import { accountNameProblem } from "../accounts/names.js";
import { parseSize } from "../accounts/sizes.js";
import { UsageError } from "../core/errors.js";
import { PROTOCOLS, type Protocol } from "../store/store.js";

/** Longest validity accepted for `days` (100 years). */
export const MAX_DAYS = 36_500;

/** Longest SSH password accepted (characters). */
const MAX_PASSWORD = 256;

export type CreateRequest = {
  protocol: Protocol;
  name: string;
  password: string | null;
  /** Bytes; null: unlimited. */
  limitBytes: number | null;
  days: number | null;
};

/** The account name from a path or body, or a 400 saying why it cannot be one. */
export function checkName(name: unknown): string {
  if (typeof name !== "string") throw new ApiError(400, "bad_name", "the account name is missing");
  const problem = accountNameProblem(name);
  if (problem) {
    const shown = name.length > 40 ? `${name.slice(0, 37)}...` : name;
    throw new ApiError(
      400,
      "bad_name",
      `${JSON.stringify(shown)} is not an account name: ${problem}`,
    );
  }
  return name;
}

/** A limit as sent (size text, bytes, null), in bytes; null means unlimited. */
export function checkLimit(limit: unknown): number | null {
  if (limit === null || limit === undefined) return null;
  if (typeof limit === "number") {
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new ApiError(400, "bad_limit", `${limit} is not a whole number of bytes`);
    }
    return limit === 0 ? null : limit;
  }
  if (typeof limit !== "string") throw new ApiError(400, "bad_limit", "the limit is not a size");
  try {
    return parseSize(limit);
  } catch (err) {
    if (err instanceof UsageError) throw new ApiError(400, "bad_limit", err.message, err.hint);
    throw err;
  }
}

function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ApiError(400, "bad_request", "the request body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

/** POST /v1/accounts. */
export function checkCreateRequest(body: unknown): CreateRequest {
  const b = objectBody(body);
  const protocol = b["protocol"];
  if (typeof protocol !== "string" || !(PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new ApiError(
      400,
      "bad_protocol",
      `${JSON.stringify(protocol ?? null)} is not an account type`,
      `use one of ${PROTOCOLS.join(", ")}`,
    );
  }
  const name = checkName(b["name"]);
  const password = b["password"];
  let checkedPassword: string | null = null;
  if (protocol === "ssh") {
    if (typeof password !== "string" || password === "") {
      throw new ApiError(400, "bad_password", "an SSH account needs a password", "give --password");
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(password) || password.length > MAX_PASSWORD) {
      throw new ApiError(
        400,
        "bad_password",
        `the password must be 1-${MAX_PASSWORD} characters without line breaks or control characters`,
      );
    }
    checkedPassword = password;
  } else if (password !== undefined && password !== null) {
    throw new ApiError(
      400,
      "bad_password",
      `${protocol} accounts get a generated secret; a password is for SSH accounts only`,
    );
  }
  const days = b["days"];
  if (
    days !== undefined &&
    days !== null &&
    (typeof days !== "number" || !Number.isInteger(days) || days < 1 || days > MAX_DAYS)
  ) {
    throw new ApiError(400, "bad_days", `days must be a whole number from 1 to ${MAX_DAYS}`);
  }
  return {
    protocol: protocol as Protocol,
    name,
    password: checkedPassword,
    limitBytes: checkLimit(b["limit"]),
    days: typeof days === "number" ? days : null,
  };
}

/** POST /v1/accounts/:name/limit. */
export function checkLimitRequest(body: unknown): { limitBytes: number | null; reset: boolean } {
  const b = objectBody(body);
  if (!("limit" in b)) {
    throw new ApiError(400, "bad_limit", "the limit is missing", "send 0 or null for unlimited");
  }
  const reset = b["reset"];
  if (reset !== undefined && typeof reset !== "boolean") {
    throw new ApiError(400, "bad_request", "reset must be true or false");
  }
  return { limitBytes: checkLimit(b["limit"]), reset: reset === true };
}

/**
 * POST /v1/accounts/:name/expiry: exactly one of `days` (added to the current expiry, or to today
 * when there is none or it has passed), `expires` (a local date YYYY-MM-DD, the first day the
 * account no longer works) or `never`.
 */
export type ExpiryRequest = { days: number } | { date: string } | { never: true };

export function checkExpiryRequest(body: unknown): ExpiryRequest {
  const b = objectBody(body);
  const given = ["days", "expires", "never"].filter((k) => b[k] !== undefined && b[k] !== null);
  if (given.length !== 1) {
    throw new ApiError(
      400,
      "bad_expiry",
      "give exactly one of days, expires or never",
      "days adds to the current expiry; expires is a date YYYY-MM-DD; never removes the expiry",
    );
  }
  if (b["never"] !== undefined && b["never"] !== null) {
    if (b["never"] !== true) throw new ApiError(400, "bad_expiry", "never must be true");
    return { never: true };
  }
  const days = b["days"];
  if (days !== undefined && days !== null) {
    if (typeof days !== "number" || !Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
      throw new ApiError(400, "bad_days", `days must be a whole number from 1 to ${MAX_DAYS}`);
    }
    return { days };
  }
  const date = b["expires"];
  const m = typeof date === "string" ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(date) : null;
  const parsed = m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : null;
  if (
    !m ||
    !parsed ||
    parsed.getFullYear() !== Number(m[1]) ||
    parsed.getMonth() !== Number(m[2]) - 1 ||
    parsed.getDate() !== Number(m[3])
  ) {
    const shown = typeof date === "string" ? JSON.stringify(date.slice(0, 40)) : "the expiry";
    throw new ApiError(400, "bad_expiry", `${shown} is not a date`, "write it as YYYY-MM-DD");
  }
  return { date: date as string };
}

/** DELETE /v1/accounts/:name. */
export function checkDeleteRequest(body: unknown): { reason: string | null } {
  const reason = objectBody(body)["reason"];
  if (reason !== undefined && reason !== null && typeof reason !== "string") {
    throw new ApiError(400, "bad_request", "reason must be text");
  }
  return { reason: typeof reason === "string" && reason.trim() !== "" ? reason.trim() : null };
}

/** A `limit` query parameter: default when absent, 400 when not a whole number in 1..max. */
export function checkQueryLimit(value: string | null, fallback: number, max: number): number {
  if (value === null || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new ApiError(400, "bad_limit", `limit must be a whole number from 1 to ${max}`);
  }
  return n;
}

/** POST /v1/events/ack. */
export function checkAckRequest(body: unknown): number[] {
  const ids = objectBody(body)["ids"];
  if (!Array.isArray(ids) || !ids.every((id) => Number.isSafeInteger(id) && id > 0)) {
    throw new ApiError(400, "bad_request", "ids must be a list of event ids");
  }
  return ids as number[];
}
