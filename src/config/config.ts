import { z } from "zod";
import { readEnvFile } from "./env-file.js";
import { OperatorError } from "../core/errors.js";
import { LOG_LEVELS } from "../core/log.js";

/** Where kuota looks for its environment file unless `KUOTA_ENV_FILE` says otherwise. */
export const DEFAULT_ENV_FILE = "/etc/kuota/kuota.env";

/** A comma-separated list of TCP ports, e.g. `22,109,143`. */
const portList = z.string().transform((s, ctx) => {
  const ports = s
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  const out: number[] = [];
  for (const p of ports) {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1 || n > 65535) {
      ctx.addIssue({ code: "custom", message: `"${p}" is not a TCP port (1-65535)` });
      return z.NEVER;
    }
    out.push(n);
  }
  return out;
});

const hostPort = z
  .string()
  .regex(
    /^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/,
    "expected HOST:PORT, e.g. 127.0.0.1:10085",
  );

const positiveMs = (min: number) => z.coerce.number().int().min(min);

/**
 * Every setting, its default and the fix printed when it is wrong. The text of
 * `describe()` is the one-line fix; .env.example documents the same variables.
 */
const schema = z.object({
  KUOTA_DB: z.string().min(1).default("/var/lib/kuota/kuota.db"),
  KUOTA_DATA_DIR: z.string().min(1).default("/etc/myvpn"),
  KUOTA_SOCKET: z.string().min(1).default("/run/kuota/kuota.sock"),
  KUOTA_SOCKET_GROUP: z.string().default("kuota"),
  KUOTA_LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
  XRAY_API: hostPort.default("127.0.0.1:10085"),
  XRAY_CONFIG: z.string().min(1).default("/etc/xray/config.json"),
  XRAY_FLAVOR: z.enum(["auto", "xray", "v2ray"]).default("auto"),
  KUOTA_POLL_MS: positiveMs(5).default(1000),
  KUOTA_ADOPT_MS: positiveMs(100).default(5000),
  KUOTA_PASSWD_FILE: z.string().min(1).default("/etc/passwd"),
  SSH_PORTS: portList.default([22, 109, 143]),
});

export type Config = {
  /** SQLite database file. */
  dbPath: string;
  /** Folder of the files sellers' menu scripts read (usage/, deleted.log, hosts.log). */
  dataDir: string;
  /** The worker's control socket (HTTP+JSON over a unix socket). */
  socketPath: string;
  /** Group that may use the control socket (the bot's user is in it); empty: root only. */
  socketGroup: string;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Engine gRPC API address. */
  xrayApi: string;
  xrayConfig: string;
  xrayFlavor: "auto" | "xray" | "v2ray";
  /** Regular usage poll interval (ms). */
  pollMs: number;
  /** How often accounts are re-discovered from the engine config and /etc/passwd (ms). */
  adoptMs: number;
  passwdFile: string;
  sshPorts: number[];
};

const FIXES: Record<string, string> = {
  KUOTA_DB: "set it to a writable file path, e.g. /var/lib/kuota/kuota.db",
  KUOTA_LOG_LEVEL: `use one of ${LOG_LEVELS.join(", ")}`,
  XRAY_API: "set it to the engine's API listener, e.g. 127.0.0.1:10085",
  XRAY_FLAVOR: "use auto (detect), xray or v2ray",
  KUOTA_POLL_MS: "use a whole number of milliseconds, at least 5 (default 1000)",
  KUOTA_ADOPT_MS: "use a whole number of milliseconds, at least 100 (default 5000)",
  SSH_PORTS: "list the SSH daemons' ports separated by commas, e.g. 22,109,143",
};

/**
 * Builds the configuration from the environment, after merging the env file
 * (`KUOTA_ENV_FILE`, default /etc/kuota/kuota.env; variables already set in the
 * environment win). Every mistake is reported at once in one OperatorError.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const merged: Record<string, string | undefined> = {};
  const envFile = env.KUOTA_ENV_FILE ?? DEFAULT_ENV_FILE;
  const fromFile = readEnvFile(envFile);
  if (fromFile === null && env.KUOTA_ENV_FILE) {
    throw new OperatorError(
      `KUOTA_ENV_FILE names ${envFile}, which does not exist`,
      "create it from .env.example or unset KUOTA_ENV_FILE",
      2,
    );
  }
  for (const [k, v] of fromFile ?? []) merged[k] = v;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) merged[k] = v;
  // An empty variable means "not set", as in systemd's EnvironmentFile.
  for (const k of Object.keys(merged)) if (merged[k] === "") delete merged[k];

  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? "?");
      const fix = FIXES[key];
      return `${key}=${JSON.stringify(merged[key] ?? "")}: ${issue.message}${fix ? ` (${fix})` : ""}`;
    });
    throw new OperatorError(
      `invalid configuration: ${lines.join("; ")}`,
      `fix ${fromFile ? envFile : "the environment"}; see .env.example`,
      2,
    );
  }
  const c = parsed.data;
  return {
    dbPath: c.KUOTA_DB,
    dataDir: c.KUOTA_DATA_DIR,
    socketPath: c.KUOTA_SOCKET,
    socketGroup: c.KUOTA_SOCKET_GROUP,
    logLevel: c.KUOTA_LOG_LEVEL,
    xrayApi: c.XRAY_API,
    xrayConfig: c.XRAY_CONFIG,
    xrayFlavor: c.XRAY_FLAVOR,
    pollMs: c.KUOTA_POLL_MS,
    adoptMs: c.KUOTA_ADOPT_MS,
    passwdFile: c.KUOTA_PASSWD_FILE,
    sshPorts: c.SSH_PORTS,
  };
}
