import { z } from "zod";
import { DEFAULT_ENV_FILE, loadConfig } from "../config/config.js";
import { readEnvFile } from "../config/env-file.js";
import { OperatorError } from "../core/errors.js";
import { LOCALES, type Locale } from "./locales.js";

/** The bot's settings: its own variables plus the worker's socket from the shared config. */
export type BotConfig = {
  /** Bot API token from @BotFather. Never logged, never put in a message or an error. */
  token: string;
  /** Telegram user ids allowed to use the bot; everyone else is refused. */
  adminIds: ReadonlySet<number>;
  /** Language used when an admin's Telegram language is not one the bot speaks. */
  defaultLocale: Locale;
  /** Bot API root without a trailing slash, e.g. https://api.telegram.org. */
  apiRoot: string;
  /** Folder for the bot's small state (each admin's chosen language). */
  stateDir: string;
  /** The worker's control socket (KUOTA_SOCKET). */
  socketPath: string;
  /** Log level of the shared config (KUOTA_LOG_LEVEL). */
  logLevel: ReturnType<typeof loadConfig>["logLevel"];
};

const adminIds = z.string().transform((s, ctx) => {
  const ids = new Set<number>();
  for (const part of s.split(",")) {
    const p = part.trim();
    if (p === "") continue;
    const n = Number(p);
    if (!/^\d{1,16}$/.test(p) || !Number.isSafeInteger(n) || n <= 0) {
      ctx.addIssue({ code: "custom", message: `"${p}" is not a Telegram user id` });
      return z.NEVER;
    }
    ids.add(n);
  }
  if (ids.size === 0) {
    ctx.addIssue({ code: "custom", message: "no user id given" });
    return z.NEVER;
  }
  return ids;
});

const schema = z.object({
  BOT_TOKEN: z.string().regex(/^\d{1,20}:[A-Za-z0-9_-]{1,100}$/, "does not look like a bot token"),
  ADMIN_IDS: adminIds,
  BOT_LOCALE: z.enum(LOCALES).default("en"),
  TELEGRAM_API_ROOT: z
    .url({ protocol: /^https?$/, message: "is not an http(s) URL" })
    .default("https://api.telegram.org")
    .transform((u) => u.replace(/\/+$/, "")),
  BOT_STATE_DIR: z.string().min(1).default("/var/lib/kuota-bot"),
});

const FIXES: Record<string, string> = {
  BOT_TOKEN: "paste the token @BotFather gave you, e.g. 123456:ABC-def",
  ADMIN_IDS:
    "list Telegram user ids separated by commas, e.g. 11111111,22222222 (ask @userinfobot)",
  BOT_LOCALE: `use one of ${LOCALES.join(", ")}`,
  TELEGRAM_API_ROOT: "leave it empty for Telegram's, or give a local Bot API server's URL",
  BOT_STATE_DIR: "set it to a folder the bot's user may write",
};

/** Variables whose value must never appear in an error message. */
const SECRET = new Set(["BOT_TOKEN"]);

/**
 * Builds the bot's configuration from the environment and the env file (`KUOTA_ENV_FILE`,
 * default /etc/kuota/kuota.env; the environment wins; an empty value means unset). The
 * worker's settings are read through `loadConfig`, so every mistake of both is reported
 * together in one OperatorError (exit code 2). The token's value is never echoed.
 */
export function loadBotConfig(env: NodeJS.ProcessEnv = process.env): BotConfig {
  const problems: string[] = [];
  let shared: ReturnType<typeof loadConfig> | null = null;
  try {
    shared = loadConfig(env);
  } catch (err) {
    if (!(err instanceof OperatorError)) throw err;
    problems.push(err.message);
  }

  const envFile = env.KUOTA_ENV_FILE ?? DEFAULT_ENV_FILE;
  const merged: Record<string, string | undefined> = {};
  for (const [k, v] of readEnvFile(envFile) ?? []) merged[k] = v;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) merged[k] = v;
  for (const k of Object.keys(merged)) if (merged[k] === "") delete merged[k];

  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? "?");
      const shown = SECRET.has(key) ? "" : `=${JSON.stringify(merged[key] ?? "")}`;
      const message = merged[key] === undefined ? "is required" : issue.message;
      problems.push(`${key}${shown}: ${message} (${FIXES[key] ?? "see .env.example"})`);
    }
  }
  if (problems.length > 0 || !parsed.success || shared === null) {
    throw new OperatorError(
      `invalid configuration: ${problems.join("; ")}`,
      "fix the environment or the env file; see .env.example",
      2,
    );
  }
  const c = parsed.data;
  return {
    token: c.BOT_TOKEN,
    adminIds: c.ADMIN_IDS,
    defaultLocale: c.BOT_LOCALE,
    apiRoot: c.TELEGRAM_API_ROOT,
    stateDir: c.BOT_STATE_DIR,
    socketPath: shared.socketPath,
    logLevel: shared.logLevel,
  };
}
