import { pino, type Logger, type Level } from "pino";

export type { Logger };

/** Levels accepted by `--log-level` and `KUOTA_LOG_LEVEL`. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Secrets that must never reach a log line, wherever they sit in a logged object.
 * Account UUIDs and passwords travel under these keys inside kuota.
 */
const REDACT = [
  "token",
  "botToken",
  "password",
  "uuid",
  "id",
  "secret",
  "*.token",
  "*.password",
  "*.uuid",
  "*.secret",
];

/**
 * The root logger: pino JSON lines to stdout. Components take a child with
 * `logger.child({ component })` so every line says where it came from.
 */
export function createLogger(level: LogLevel | Level = "info"): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    redact: { paths: REDACT, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/** A logger that writes nothing, for tests and for the CLI's quiet paths. */
export const silentLogger: Logger = pino({ level: "silent" });
