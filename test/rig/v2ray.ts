/**
 * Real v2ray 4.34 processes for integration tests: server configs shaped like sellers' (API on a
 * dokodemo-door inbound, per-user stats, one inbound per protocol, one per Shadowsocks account),
 * client configs that turn a SOCKS5 port into one account's connection, process control (stop,
 * kill -9, restart) and v2ctl cross-checks of the engine's counters.
 *
 * Every process and temporary directory started here is ended and removed after the test file's
 * last test (a module-level node:test `after`) and, as a last resort, when Node exits. Set
 * KUOTA_KEEP_RIG=1 to keep the directories (configs and logs) for a post-mortem.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { freePort } from "./ports.js";
import { makeSelfSignedCert, type TlsCert } from "./tls-cert.js";

export type Protocol = "vmess" | "vless" | "trojan" | "shadowsocks";
export type ShadowsocksMethod = "aes-128-gcm" | "aes-256-gcm" | "chacha20-poly1305";
export type Transport = "tcp" | "ws";

export interface RigAccount {
  protocol: Protocol;
  /** Account name; also the stats key (`user>>>EMAIL>>>traffic>>>...`). Use lowercase. */
  email: string;
  /** UUID for vmess and vless. */
  id?: string;
  /** Password for trojan and shadowsocks. */
  password?: string;
  /** Shadowsocks cipher; default aes-128-gcm. */
  method?: ShadowsocksMethod;
  /** Policy level; default 0 (the level with user stats on). */
  level?: number;
}

/** An inbound reachable over WebSocket at `path`, as sellers run VLESS/VMess behind nginx. */
export interface WsInbound {
  port: number;
  path: string;
}

export interface ServerOptions {
  /** Port of the `api-in` dokodemo-door inbound (gRPC API) on 127.0.0.1. */
  apiPort: number;
  accounts: RigAccount[];
  /** TCP inbound ports. Shadowsocks has one inbound per account (4.34 has one user per inbound). */
  ports: {
    vmess?: number;
    vless?: number;
    trojan?: number;
    /** email → port */
    shadowsocks?: Record<string, number>;
  };
  /** Extra WebSocket inbounds `vmess-ws-in` / `vless-ws-in` holding the same accounts. */
  ws?: { vmess?: WsInbound; vless?: WsInbound };
  /** Certificate for `trojan-in` (TLS). Required when a trojan account exists. */
  tls?: Pick<TlsCert, "certFile" | "keyFile">;
}

/** Where and how a client reaches one server inbound. */
export interface ServerEndpoint {
  protocol: Protocol;
  tag: string;
  port: number;
  transport: Transport;
  /** WebSocket path, when transport is ws. */
  path?: string;
  tls: boolean;
}

export interface InboundConfig {
  tag: string;
  listen?: string;
  port: number;
  protocol: string;
  settings: Record<string, unknown>;
  streamSettings?: Record<string, unknown>;
}

export interface V2rayConfig {
  log?: { access?: string; error?: string; loglevel?: string };
  inbounds: InboundConfig[];
  outbounds: Record<string, unknown>[];
  [section: string]: unknown;
}

export interface StartOptions {
  /** Names the temporary directory and error messages ("server", "client-vless"). */
  name: string;
  /**
   * How an object config is written: plain JSON, or JSON with `//` and `#` comment lines (as the
   * autoscripts' configs have; see `renderCommented`). Ignored for a text config.
   */
  format?: "json" | "commented";
  /** TCP ports to wait for; default every inbound port in the config. */
  waitPorts?: number[];
  /** How long to wait for "V2Ray ... started" and the ports; default 10,000 ms. */
  startTimeoutMs?: number;
}

export interface V2rayProcess {
  name: string;
  /** PID of the current process (changes on restart); undefined while stopped. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Temporary directory holding the config and logs. */
  dir: string;
  configPath: string;
  /** v2ray's stdout and stderr, including the info-level error log; appended across restarts. */
  logFile: string;
  /** The access log (`log.access`); lines like `... accepted tcp:host:port [vless-in -> direct] email: x`. */
  accessLog: string;
  /** SIGTERM, then SIGKILL after 3 s; resolves once the process is gone. No-op when stopped. */
  stop(): Promise<void>;
  /** SIGKILL; resolves once the process is gone. */
  kill9(): Promise<void>;
  /** Stops if running, then starts again from the same config file and waits until ready. */
  restart(): Promise<void>;
  /** Stops and removes the directory (unless KUOTA_KEEP_RIG is set). */
  remove(): Promise<void>;
  /** Text of `logFile` (for assertions and failure messages). */
  readLog(): string;
}

/** v2ray exited or did not become ready; the message carries the log's tail. */
export class V2rayStartError extends Error {
  override name = "V2rayStartError";
}

const live = new Set<V2rayProcess>();
const keepDirs = process.env.KUOTA_KEEP_RIG !== undefined && process.env.KUOTA_KEEP_RIG !== "";

after(async () => {
  await Promise.allSettled([...live].map((v2ray) => v2ray.remove()));
});
process.on("exit", () => {
  for (const v2ray of live) {
    if (v2ray.pid !== undefined) {
      try {
        process.kill(v2ray.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    if (!keepDirs) rmSync(v2ray.dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// accounts and configs

/** An account with a fresh UUID (vmess, vless) or password (trojan, shadowsocks). */
export function makeAccount(
  protocol: Protocol,
  email: string,
  extra: Partial<RigAccount> = {},
): RigAccount {
  const secret =
    protocol === "vmess" || protocol === "vless"
      ? { id: randomUUID() }
      : { password: randomUUID() };
  const method = protocol === "shadowsocks" ? { method: "aes-128-gcm" as const } : {};
  return { protocol, email, ...secret, ...method, ...extra };
}

function need(value: string | undefined, what: string, account: RigAccount): string {
  if (value === undefined || value === "") {
    throw new TypeError(`${account.protocol} account ${account.email} needs ${what}`);
  }
  return value;
}

function serverClient(account: RigAccount): Record<string, unknown> {
  const base = { email: account.email, level: account.level ?? 0 };
  switch (account.protocol) {
    case "vmess":
      return { id: need(account.id, "an id", account), alterId: 0, ...base };
    case "vless":
      return { id: need(account.id, "an id", account), ...base };
    case "trojan":
      return { password: need(account.password, "a password", account), ...base };
    case "shadowsocks":
      return {
        method: account.method ?? "aes-128-gcm",
        password: need(account.password, "a password", account),
        network: "tcp,udp",
        ...base,
      };
  }
}

function inbound(
  tag: string,
  protocol: string,
  port: number,
  settings: Record<string, unknown>,
  streamSettings?: Record<string, unknown>,
): InboundConfig {
  const config: InboundConfig = { tag, listen: "127.0.0.1", port, protocol, settings };
  if (streamSettings !== undefined) config.streamSettings = streamSettings;
  return config;
}

function clientsOf(accounts: RigAccount[], protocol: Protocol): Record<string, unknown>[] {
  return accounts.filter((a) => a.protocol === protocol).map(serverClient);
}

/**
 * A v2ray 4.34 server config: stats and the API (Stats, Handler, Logger services) on `api-in`,
 * user up/downlink stats at every level used, inbounds `vmess-in`, `vless-in`, `trojan-in` (TLS),
 * `ss-in-<email>` per Shadowsocks account and optionally `vmess-ws-in` / `vless-ws-in`, all on
 * 127.0.0.1, and a `freedom` outbound tagged `direct`. An inbound is present when its port is given
 * (WebSocket) or when it has accounts and a port (TCP). `log` is filled in by `startV2ray`.
 */
export function buildServerConfig(options: ServerOptions): V2rayConfig {
  const { accounts, ports } = options;
  const inbounds: InboundConfig[] = [
    inbound("api-in", "dokodemo-door", options.apiPort, { address: "127.0.0.1" }),
  ];
  const missing = (protocol: Protocol): never => {
    throw new TypeError(`buildServerConfig: ${protocol} accounts given but no ports.${protocol}`);
  };
  const has = (protocol: Protocol): boolean => accounts.some((a) => a.protocol === protocol);

  if (has("vmess")) {
    const port = ports.vmess ?? missing("vmess");
    inbounds.push(inbound("vmess-in", "vmess", port, { clients: clientsOf(accounts, "vmess") }));
  }
  if (has("vless")) {
    const port = ports.vless ?? missing("vless");
    const settings = { clients: clientsOf(accounts, "vless"), decryption: "none" };
    inbounds.push(inbound("vless-in", "vless", port, settings));
  }
  if (has("trojan")) {
    const port = ports.trojan ?? missing("trojan");
    if (options.tls === undefined) throw new TypeError("buildServerConfig: trojan needs tls");
    const stream = {
      network: "tcp",
      security: "tls",
      tlsSettings: {
        certificates: [{ certificateFile: options.tls.certFile, keyFile: options.tls.keyFile }],
      },
    };
    const settings = { clients: clientsOf(accounts, "trojan") };
    inbounds.push(inbound("trojan-in", "trojan", port, settings, stream));
  }
  for (const account of accounts.filter((a) => a.protocol === "shadowsocks")) {
    const port = ports.shadowsocks?.[account.email] ?? missing("shadowsocks");
    inbounds.push(inbound(`ss-in-${account.email}`, "shadowsocks", port, serverClient(account)));
  }
  if (options.ws?.vmess !== undefined) {
    const { port, path } = options.ws.vmess;
    const settings = { clients: clientsOf(accounts, "vmess") };
    const stream = { network: "ws", wsSettings: { path } };
    inbounds.push(inbound("vmess-ws-in", "vmess", port, settings, stream));
  }
  if (options.ws?.vless !== undefined) {
    const { port, path } = options.ws.vless;
    const settings = { clients: clientsOf(accounts, "vless"), decryption: "none" };
    const stream = { network: "ws", wsSettings: { path } };
    inbounds.push(inbound("vless-ws-in", "vless", port, settings, stream));
  }

  const levels: Record<string, Record<string, boolean>> = {};
  for (const level of new Set([0, ...accounts.map((a) => a.level ?? 0)])) {
    levels[String(level)] = { statsUserUplink: true, statsUserDownlink: true };
  }
  return {
    log: { loglevel: "info" },
    stats: {},
    api: { tag: "api", services: ["StatsService", "HandlerService", "LoggerService"] },
    policy: {
      levels,
      system: {
        statsInboundUplink: true,
        statsInboundDownlink: true,
        statsOutboundUplink: true,
        statsOutboundDownlink: true,
      },
    },
    inbounds,
    outbounds: [{ protocol: "freedom", tag: "direct", settings: {} }],
    routing: { rules: [{ type: "field", inboundTag: ["api-in"], outboundTag: "api" }] },
  };
}

/** The inbound of `options` a client of `account` connects to. Throws when there is none. */
export function endpointFor(
  options: ServerOptions,
  account: RigAccount,
  transport: Transport = "tcp",
): ServerEndpoint {
  const { protocol } = account;
  if (transport === "ws") {
    const ws = protocol === "vmess" || protocol === "vless" ? options.ws?.[protocol] : undefined;
    if (ws === undefined) throw new TypeError(`no ${protocol} WebSocket inbound in these options`);
    return {
      protocol,
      tag: `${protocol}-ws-in`,
      port: ws.port,
      transport,
      path: ws.path,
      tls: false,
    };
  }
  const port =
    protocol === "shadowsocks"
      ? options.ports.shadowsocks?.[account.email]
      : options.ports[protocol];
  if (port === undefined) throw new TypeError(`no ${protocol} inbound port for ${account.email}`);
  const tag = protocol === "shadowsocks" ? `ss-in-${account.email}` : `${protocol}-in`;
  return { protocol, tag, port, transport, tls: protocol === "trojan" };
}

function clientOutbound(endpoint: ServerEndpoint, account: RigAccount): Record<string, unknown> {
  const address = "127.0.0.1";
  const { port } = endpoint;
  let settings: Record<string, unknown>;
  switch (account.protocol) {
    case "vmess":
      settings = {
        vnext: [{ address, port, users: [{ id: account.id, alterId: 0, security: "auto" }] }],
      };
      break;
    case "vless":
      settings = { vnext: [{ address, port, users: [{ id: account.id, encryption: "none" }] }] };
      break;
    case "trojan":
      settings = { servers: [{ address, port, password: account.password }] };
      break;
    case "shadowsocks":
      settings = {
        servers: [
          { address, port, method: account.method ?? "aes-128-gcm", password: account.password },
        ],
      };
      break;
  }
  const streamSettings: Record<string, unknown> = { network: endpoint.transport };
  if (endpoint.transport === "ws") streamSettings.wsSettings = { path: endpoint.path ?? "/" };
  if (endpoint.tls) {
    streamSettings.security = "tls";
    streamSettings.tlsSettings = { serverName: "localhost", allowInsecure: true };
  }
  return { tag: "proxy", protocol: account.protocol, settings, streamSettings };
}

/**
 * A v2ray client config: a SOCKS5 inbound (no auth) on 127.0.0.1:socksPort whose traffic goes out
 * as `account` to `endpoint` (trojan with TLS and allowInsecure, vless with encryption "none",
 * vmess with alterId 0).
 */
export function buildClientConfig(params: {
  socksPort: number;
  endpoint: ServerEndpoint;
  account: RigAccount;
}): V2rayConfig {
  const { socksPort, endpoint, account } = params;
  if (endpoint.protocol !== account.protocol) {
    throw new TypeError(`a ${account.protocol} account cannot use a ${endpoint.protocol} inbound`);
  }
  return {
    log: { loglevel: "warning" },
    inbounds: [
      inbound("socks-in", "socks", socksPort, { auth: "noauth", udp: false, ip: "127.0.0.1" }),
    ],
    outbounds: [clientOutbound(endpoint, account)],
  };
}

// ---------------------------------------------------------------------------------------------
// commented config text

type PathKey = string | number;

function commentsAt(path: PathKey[], root: V2rayConfig): string[] {
  if (path.length === 0) {
    return [
      "// kuota test rig: v2ray reads // and # comment lines like these",
      "# (autoscript style)",
    ];
  }
  const [section, index, key, child] = path;
  if (section !== "inbounds" || typeof index !== "number") return [];
  const config = root.inbounds[index];
  if (config === undefined) return [];
  if (path.length === 2) return [`// inbound ${config.tag}`];
  if (key !== "settings" || child !== "clients" || path.length !== 5) return [];
  const clients = config.settings.clients;
  const client = Array.isArray(clients) ? (clients[path[4] as number] as { email?: unknown }) : {};
  const lines = path[4] === 0 ? [`#${config.protocol}`] : [];
  return [...lines, `### ${String(client.email)} 2099-12-31`];
}

function renderValue(
  value: unknown,
  path: PathKey[],
  lead: string,
  trail: string,
  root: V2rayConfig,
  out: string[],
): void {
  const pad = "  ".repeat(path.length);
  for (const comment of commentsAt(path, root)) {
    // `#` markers start at column 0, as the autoscripts write them.
    out.push(comment.startsWith("#") ? comment : pad + comment);
  }
  if (Array.isArray(value) && value.length > 0) {
    out.push(`${pad}${lead}[`);
    value.forEach((item, i) => {
      renderValue(item, [...path, i], "", i < value.length - 1 ? "," : "", root, out);
    });
    out.push(`${pad}]${trail}`);
    return;
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length > 0) {
      out.push(`${pad}${lead}{`);
      entries.forEach(([key, v], i) => {
        const comma = i < entries.length - 1 ? "," : "";
        renderValue(v, [...path, key], `${JSON.stringify(key)}: `, comma, root, out);
      });
      out.push(`${pad}}${trail}`);
      return;
    }
  }
  out.push(`${pad}${lead}${JSON.stringify(value)}${trail}`);
}

/**
 * `config` as JSON text with comment lines the way autoscripts write them: `//` lines at the top
 * and before each inbound, and inside each `clients` array a `#<protocol>` marker before the first
 * client and a `### <email> <expiry>` line before every client. v2ray 4.34 loads it.
 */
export function renderCommented(config: V2rayConfig): string {
  const out: string[] = [];
  renderValue(config, [], "", "", config, out);
  return `${out.join("\n")}\n`;
}

/** Drops `//`, `#` and one-line `/* *\/` comment lines, enough to read back the rig's own text. */
function stripCommentLines(text: string): string {
  return text
    .split("\n")
    .filter((line) => !/^\s*(\/\/|#|\/\*.*\*\/\s*$)/.test(line))
    .join("\n");
}

// ---------------------------------------------------------------------------------------------
// processes

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

function readFrom(file: string, offset: number): string {
  if (!existsSync(file)) return "";
  const size = statSync(file).size;
  if (size <= offset) return "";
  const buffer = Buffer.alloc(size - offset);
  const fd = openSync(file, "r");
  try {
    readSync(fd, buffer, 0, buffer.length, offset);
  } finally {
    closeSync(fd);
  }
  return buffer.toString("utf8");
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * A `sh` loop that, within a second of this Node process dying without cleaning up (kill -9, a
 * native crash), SIGKILLs the v2ray named in `<dir>/v2ray.pid` and removes `dir`: Linux does not end
 * children with their parent. One per started v2ray, alive across restarts; `remove()` ends it.
 */
function watchOver(dir: string): ChildProcess {
  const cleanup = keepDirs ? "" : ' rm -rf "$2"';
  const script =
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ' +
    `[ -f "$2/v2ray.pid" ] && kill -9 "$(cat "$2/v2ray.pid")" 2>/dev/null;${cleanup}`;
  const watchdog = spawn("sh", ["-c", script, "kuota-rig-watchdog", String(process.pid), dir], {
    stdio: "ignore",
    detached: true,
  });
  watchdog.unref();
  return watchdog;
}

function inboundPorts(config: V2rayConfig): number[] {
  return config.inbounds.map((i) => i.port).filter((p) => Number.isInteger(p) && p > 0);
}

/**
 * Writes `config` into a new temporary directory and runs `v2ray -config <dir>/config.json` until
 * it has logged "V2Ray ... started" and every inbound port accepts TCP connections.
 *
 * An object config gets `log.access` = `<dir>/access.log` unless it names one; `log.error` is left
 * unset so the engine log lands in `logFile`. A text config (comments allowed) is written as is;
 * its ports are read after dropping comment lines, or given as `waitPorts`.
 * Throws V2rayStartError (with the log's tail) if v2ray exits or is not ready in time; the
 * directory is removed then.
 */
export async function startV2ray(
  config: V2rayConfig | string,
  options: StartOptions,
): Promise<V2rayProcess> {
  const dir = mkdtempSync(join(tmpdir(), `kuota-v2ray-${options.name}-`));
  const configPath = join(dir, "config.json");
  const logFile = join(dir, "v2ray.log");
  let accessLog = join(dir, "access.log");
  let waitPorts = options.waitPorts;
  if (typeof config === "string") {
    writeFileSync(configPath, config);
    if (waitPorts === undefined) {
      try {
        waitPorts = inboundPorts(JSON.parse(stripCommentLines(config)) as V2rayConfig);
      } catch (error) {
        rmSync(dir, { recursive: true, force: true });
        throw new TypeError(
          "startV2ray: cannot read the ports of this text config; pass waitPorts",
          {
            cause: error,
          },
        );
      }
    }
  } else {
    const log = { loglevel: "info", access: accessLog, ...config.log };
    accessLog = log.access;
    const filled: V2rayConfig = { ...config, log };
    const text =
      options.format === "commented" ? renderCommented(filled) : JSON.stringify(filled, null, 2);
    writeFileSync(configPath, text);
    waitPorts ??= inboundPorts(config);
  }
  const ports = waitPorts;
  const timeoutMs = options.startTimeoutMs ?? 10_000;

  const pidFile = join(dir, "v2ray.pid");
  const watchdog = watchOver(dir);
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const spawnOnce = async (): Promise<void> => {
    const offset = existsSync(logFile) ? statSync(logFile).size : 0;
    const fd = openSync(logFile, "a");
    const proc = spawn("v2ray", ["-config", configPath], { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    if (proc.pid !== undefined) writeFileSync(pidFile, `${proc.pid}\n`);
    let gone = false;
    let spawnError: Error | undefined;
    proc.once("error", (error) => {
      spawnError = error;
    });
    exited = new Promise((resolve) => {
      proc.once("exit", () => {
        gone = true;
        rmSync(pidFile, { force: true });
        if (child === proc) child = undefined;
        resolve();
      });
    });
    child = proc;

    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (gone || spawnError !== undefined) {
        const why =
          spawnError?.message ?? `exited with ${String(proc.exitCode ?? proc.signalCode)}`;
        throw new V2rayStartError(
          `v2ray ${options.name} ${why} while starting:\n${tail(readFrom(logFile, offset))}`,
        );
      }
      if (/V2Ray \S+ started/.test(readFrom(logFile, offset))) {
        const open = await Promise.all(ports.map(portAccepts));
        if (open.every(Boolean)) return;
      }
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        await exited;
        throw new V2rayStartError(
          `v2ray ${options.name} not ready after ${timeoutMs} ms (ports ${ports.join(", ")}):\n` +
            tail(readFrom(logFile, offset)),
        );
      }
      await sleep(20);
    }
  };

  const signalAndWait = async (signal: NodeJS.Signals, graceMs: number): Promise<void> => {
    const proc = child;
    if (proc === undefined) return;
    proc.kill(signal);
    const done = exited;
    const timedOut = await Promise.race([done.then(() => false), sleep(graceMs).then(() => true)]);
    if (timedOut) {
      proc.kill("SIGKILL");
      await done;
    }
  };

  let removed = false;
  const v2ray: V2rayProcess = {
    name: options.name,
    get pid() {
      return child?.pid;
    },
    get running() {
      return child !== undefined;
    },
    dir,
    configPath,
    logFile,
    accessLog,
    stop: () => signalAndWait("SIGTERM", 3000),
    kill9: () => signalAndWait("SIGKILL", 3000),
    async restart() {
      await signalAndWait("SIGTERM", 3000);
      await spawnOnce();
    },
    async remove() {
      await signalAndWait("SIGTERM", 3000);
      live.delete(v2ray);
      watchdog.kill("SIGKILL");
      if (!removed && !keepDirs) rmSync(dir, { recursive: true, force: true });
      removed = true;
    },
    readLog: () => readFrom(logFile, 0),
  };
  live.add(v2ray);
  try {
    await spawnOnce();
  } catch (error) {
    await v2ray.remove();
    throw error;
  }
  return v2ray;
}

// ---------------------------------------------------------------------------------------------
// server and client in one call

export interface RigServer {
  v2ray: V2rayProcess;
  /** What the config was built from: ports, accounts, TLS files. */
  options: ServerOptions;
  apiPort: number;
  cert: TlsCert | undefined;
  /** The inbound a client of `account` should use (see `endpointFor`). */
  endpoint(account: RigAccount, transport?: Transport): ServerEndpoint;
}

export interface RigClient {
  v2ray: V2rayProcess;
  /** SOCKS5 port on 127.0.0.1 for curl. */
  socksPort: number;
  endpoint: ServerEndpoint;
}

async function withFreshPorts<T>(attempts: number, start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      // Another process may have taken a port between freePort() and v2ray's bind.
      const portRace =
        error instanceof V2rayStartError && /address already in use/.test(error.message);
      if (!portRace || attempt >= attempts) throw error;
    }
  }
}

/**
 * Allocates ports, makes a certificate when a trojan account exists, builds the server config and
 * starts it. `ws: true` adds `vless-ws-in` at path /vless and `vmess-ws-in` at /vmess. Retries with
 * fresh ports (3 attempts) if a port was taken in between.
 */
export async function startV2rayServer(params: {
  accounts: RigAccount[];
  ws?: boolean;
  name?: string;
  format?: "json" | "commented";
}): Promise<RigServer> {
  const { accounts } = params;
  const emails = accounts.map((a) => a.email);
  if (new Set(emails).size !== emails.length) throw new TypeError("account emails must be unique");
  const cert = accounts.some((a) => a.protocol === "trojan")
    ? await makeSelfSignedCert()
    : undefined;
  return withFreshPorts(3, async () => {
    const shadowsocks: Record<string, number> = {};
    for (const a of accounts.filter((x) => x.protocol === "shadowsocks")) {
      shadowsocks[a.email] = await freePort();
    }
    const options: ServerOptions = {
      apiPort: await freePort(),
      accounts,
      ports: {
        vmess: await freePort(),
        vless: await freePort(),
        trojan: await freePort(),
        shadowsocks,
      },
    };
    if (cert !== undefined) options.tls = cert;
    if (params.ws === true) {
      options.ws = {
        vless: { port: await freePort(), path: "/vless" },
        vmess: { port: await freePort(), path: "/vmess" },
      };
    }
    const config = buildServerConfig(options);
    const startOptions: StartOptions = { name: params.name ?? "server" };
    if (params.format !== undefined) startOptions.format = params.format;
    const v2ray = await startV2ray(config, startOptions);
    return {
      v2ray,
      options,
      apiPort: options.apiPort,
      cert,
      endpoint: (account, transport) => endpointFor(options, account, transport),
    };
  });
}

/** Starts a v2ray client for `account` against `server` (or an explicit endpoint). */
export async function startV2rayClient(
  server: RigServer | ServerEndpoint,
  account: RigAccount,
  options: { transport?: Transport; name?: string } = {},
): Promise<RigClient> {
  const endpoint =
    "v2ray" in server ? server.endpoint(account, options.transport ?? "tcp") : server;
  return withFreshPorts(3, async () => {
    const socksPort = await freePort();
    const config = buildClientConfig({ socksPort, endpoint, account });
    const name = options.name ?? `client-${account.email}`.replace(/[^a-zA-Z0-9._-]/g, "_");
    const v2ray = await startV2ray(config, { name });
    return { v2ray, socksPort, endpoint };
  });
}

// ---------------------------------------------------------------------------------------------
// v2ctl cross-checks

async function v2ctlApi(apiPort: number, method: string, request: string): Promise<string> {
  const { stdout } = await execa("v2ctl", [
    "api",
    `--server=127.0.0.1:${apiPort}`,
    method,
    request,
  ]);
  return stdout;
}

/** Undoes the text format's quoting for the plain escapes emails can contain. */
function unquote(quoted: string): string {
  return quoted.replace(/\\(["\\])/g, "$1");
}

/**
 * `v2ctl api StatsService.QueryStats` → counter name → value in bytes. `pattern` is v2ray's plain
 * substring match ("" = all). Counters that were never touched do not exist (absent, not 0).
 * Throws execa's error when v2ctl fails (engine down, wrong port).
 */
export async function v2ctlQuery(
  apiPort: number,
  options: { pattern?: string; reset?: boolean } = {},
): Promise<Map<string, number>> {
  const request = `pattern: ${JSON.stringify(options.pattern ?? "")} reset: ${options.reset === true}`;
  const stdout = await v2ctlApi(apiPort, "StatsService.QueryStats", request);
  const stats = new Map<string, number>();
  // Text format: stat: < name: "..." value: N >, value omitted when 0.
  for (const block of stdout.split(/stat:\s*</).slice(1)) {
    const name = /name:\s*"((?:[^"\\]|\\.)*)"/.exec(block)?.[1];
    if (name === undefined) continue;
    const value = /value:\s*(-?\d+)/.exec(block)?.[1];
    stats.set(unquote(name), value === undefined ? 0 : Number(value));
  }
  return stats;
}

/** `v2ctl api StatsService.GetSysStats` → field → number (Uptime in seconds, NumGoroutine...). */
export async function v2ctlSysStats(apiPort: number): Promise<Record<string, number>> {
  const stdout = await v2ctlApi(apiPort, "StatsService.GetSysStats", "");
  const fields: Record<string, number> = {};
  for (const match of stdout.matchAll(/^\s*(\w+):\s*(\d+)\s*$/gm)) {
    if (match[1] !== undefined && match[2] !== undefined) fields[match[1]] = Number(match[2]);
  }
  fields.Uptime ??= 0;
  return fields;
}

export interface UserTraffic {
  /** `user>>>EMAIL>>>traffic>>>uplink`, bytes; 0 when the counter does not exist. */
  uplink: number;
  /** `user>>>EMAIL>>>traffic>>>downlink`, bytes; 0 when the counter does not exist. */
  downlink: number;
}

/** One user's counters from a `v2ctlQuery` result. */
export function userTraffic(stats: Map<string, number>, email: string): UserTraffic {
  return {
    uplink: stats.get(`user>>>${email}>>>traffic>>>uplink`) ?? 0,
    downlink: stats.get(`user>>>${email}>>>traffic>>>downlink`) ?? 0,
  };
}

/**
 * Polls `email`'s counters every 25 ms until they equal `expected` or `timeoutMs` (default 3,000)
 * passes, and returns the last reading. Counters move when bytes pass the engine, which can trail
 * curl's exit by a few ms; this is the "settle wait" before an exact comparison.
 */
export async function settleUserTraffic(
  apiPort: number,
  email: string,
  expected: UserTraffic,
  timeoutMs = 3000,
): Promise<UserTraffic> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = userTraffic(await v2ctlQuery(apiPort, { pattern: `user>>>${email}>>>` }), email);
    if (seen.uplink === expected.uplink && seen.downlink === expected.downlink) return seen;
    if (Date.now() > deadline) return seen;
    await sleep(25);
  }
}
