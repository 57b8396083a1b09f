import { WorkerDownError } from "../core/errors.js";
import { WorkerRequestError } from "../control/client.js";
import { clip, escapeHtml } from "./html.js";
import type { Translate } from "./locales.js";

/**
 * The admin-facing text for a failed worker request, or null when the error is not the
 * worker's (a bug: the caller rethrows it and the bot's error handler logs it).
 * @param name the account the request was about, escaped by the caller
 */
export function workerErrorText(t: Translate, err: unknown, name = ""): string | null {
  if (err instanceof WorkerDownError) return t("worker-down");
  if (!(err instanceof WorkerRequestError)) return null;
  if (err.code === "no_account") return t("no-account", { name });
  if (err.status === 409 || err.code === "exists" || err.code === "account_exists") {
    return t("account-exists", { name });
  }
  // The router's answer for a path it does not know: the worker predates the route.
  if (err.code === "not_found" || err.code === "method_not_allowed") return t("feature-missing");
  const detail = err.hint ? `${err.message}; ${err.hint}` : err.message;
  return t("worker-refused", { message: escapeHtml(clip(detail, 300)) });
}
