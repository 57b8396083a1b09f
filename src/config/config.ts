import { z } from "zod";
import { readEnvFile } from "./env-file.js";
import { OperatorError } from "../core/errors.js";
import { LOG_LEVELS } from "../core/log.js";
import { parseServiceMap, type ServiceRule } from "../capture/service-map.js";

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

/** `true`/`false` (also 1/0, yes/no, on/off). */
const flag = z.string().transform((s, ctx) => {
  const v = s.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  ctx.addIssue({ code: "custom", message: `"${s}" is not true or false` });
  return z.NEVER;
});

/** `CAPTURE_SERVICE_MAP`, see src/capture/service-map.ts. */
const serviceMap = z.string().transform((s, ctx) => {
  const parsed = parseServiceMap(s);
  if ("error" in parsed) {
    ctx.addIssue({ code: "custom", message: parsed.error });
    return z.NEVER;
  }
  return parsed.rules;
});

/** `SSH_AUTH_LOG`: `auto`, or `journal` and/or absolute log file paths separated by commas. */
const authLogSources = z.string().transform((s, ctx) => {
  const entries = s
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  if (entries.length === 1 && entries[0] === "auto") return "auto" as const;
  for (const e of entries) {
    if (e !== "journal" && !e.startsWith("/")) {
      ctx.addIssue({ code: "custom", message: `"${e}" is neither journal nor an absolute path` });
      return z.NEVER;
    }
  }
  return entries;
});

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
  SSH_AUTH_LOG: authLogSources.default("auto"),
  SSH_ACCOUNTING: flag.default(true),
  KUOTA_LINK_MBPS: z.coerce.number().positive().max(1_000_000).default(1000),
  KUOTA_FAST_POLL_MS: positiveMs(1).default(10),
  KUOTA_ON_LIMIT: z.enum(["delete", "lock"]).default("delete"),
  KUOTA_QUOTA_NFLOG_GROUP: z.coerce.number().int().min(1).max(65535).default(42),
  KUOTA_PUBLIC_HOST: z
    .string()
    .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.:-]+)$/, "expected a domain or IP address")
    .optional(),
  CAPTURE_ENABLED: flag.default(true),
  CAPTURE_PORTS: portList.default([80, 443, 777, 8080, 8443, 2052, 2053]),
  CAPTURE_NFLOG_GROUP: z.coerce.number().int().min(1).max(65535).default(41),
  CAPTURE_SERVICE_MAP: serviceMap.default([]),
  XRAY_ACCESS_LOG: z.string().default("/var/log/xray/access.log"),
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
  /**
   * Where SSH login lines are read: `journal` (journald) and/or log files; "auto" is the journal
   * when journald runs (/run/systemd/journal exists), else /var/log/auth.log.
   */
  sshAuthLog: "auto" | string[];
  /** SSH accounting (kuota's nft table, login lines); false leaves nft and the logs alone. */
  sshAccounting: boolean;
  /** The fastest rate the server can carry (Mbit/s): decides which accounts are read often. */
  linkMbps: number;
  /** Interval of the reads of accounts close to their limit (ms). */
  fastPollMs: number;
  /** What happens to an account that used up its quota or expired (only delete so far). */
  onLimit: "delete" | "lock";
  /**
   * NFLOG group the kernel tells when an SSH account's quota runs out (its packets are dropped);
   * one reader per group and network namespace, distinct from CAPTURE_NFLOG_GROUP.
   */
  quotaNflogGroup: number;
  /** Domain or IP address customers dial, used in share links; null: no links are made. */
  publicHost: string | null;
  /** Host capture (nft rule + NFLOG reader, Xray access log); false turns both off. */
  captureEnabled: boolean;
  /** TCP ports whose new connections' first packets are read for SNI / HTTP Host. */
  capturePorts: number[];
  /** NFLOG group of the capture rule; one reader per group and network namespace. */
  captureNflogGroup: number;
  /** Seller's service names for fronted ports, paths and SNI (`CAPTURE_SERVICE_MAP`). */
  captureServiceMap: ServiceRule[];
  /** Xray/V2Ray access log followed for destinations; a missing file is waited for. */
  xrayAccessLog: string;
};

const FIXES: Record<string, string> = {
  KUOTA_DB: "set it to a writable file path, e.g. /var/lib/kuota/kuota.db",
  KUOTA_LOG_LEVEL: `use one of ${LOG_LEVELS.join(", ")}`,
  XRAY_API: "set it to the engine's API listener, e.g. 127.0.0.1:10085",
  XRAY_FLAVOR: "use auto (detect), xray or v2ray",
  KUOTA_POLL_MS: "use a whole number of milliseconds, at least 5 (default 1000)",
  KUOTA_ADOPT_MS: "use a whole number of milliseconds, at least 100 (default 5000)",
  SSH_PORTS: "list the SSH daemons' ports separated by commas, e.g. 22,109,143",
  SSH_AUTH_LOG: "use auto, journal, or absolute log file paths, e.g. /var/log/auth.log",
  SSH_ACCOUNTING: "use true or false",
  KUOTA_LINK_MBPS: "give the server's link speed in Mbit/s, e.g. 1000",
  KUOTA_FAST_POLL_MS: "use a whole number of milliseconds, at least 1 (default 10)",
  KUOTA_ON_LIMIT: "use delete (remove the account) or lock (disable it until a top-up)",
  KUOTA_QUOTA_NFLOG_GROUP:
    "use a whole number from 1 to 65535 no other program logs to, other than CAPTURE_NFLOG_GROUP (default 42)",
  KUOTA_PUBLIC_HOST:
    "set it to the domain or IP address customers connect to, e.g. vpn.example.com",
  CAPTURE_ENABLED: "use true or false",
  CAPTURE_PORTS: "list TCP ports separated by commas, e.g. 80,443,8080",
  CAPTURE_NFLOG_GROUP: "use a whole number from 1 to 65535 no other program logs to (default 41)",
  CAPTURE_SERVICE_MAP: "use KEY=NAME pairs, e.g. 443:/vless=VLESS,777=SSH,sni:ws.example.com=VLESS",
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

  const parsed = schema
    .refine((c) => c.KUOTA_QUOTA_NFLOG_GROUP !== c.CAPTURE_NFLOG_GROUP, {
      path: ["KUOTA_QUOTA_NFLOG_GROUP"],
      message: "is the same group as CAPTURE_NFLOG_GROUP",
    })
    .safeParse(merged);
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
    sshAuthLog: c.SSH_AUTH_LOG,
    sshAccounting: c.SSH_ACCOUNTING,
    linkMbps: c.KUOTA_LINK_MBPS,
    fastPollMs: c.KUOTA_FAST_POLL_MS,
    onLimit: c.KUOTA_ON_LIMIT,
    quotaNflogGroup: c.KUOTA_QUOTA_NFLOG_GROUP,
    publicHost: c.KUOTA_PUBLIC_HOST?.replace(/^\[(.*)\]$/, "$1") ?? null,
    captureEnabled: c.CAPTURE_ENABLED,
    capturePorts: c.CAPTURE_PORTS,
    captureNflogGroup: c.CAPTURE_NFLOG_GROUP,
    captureServiceMap: c.CAPTURE_SERVICE_MAP,
    xrayAccessLog: c.XRAY_ACCESS_LOG,
  };
}
