/**
 * What kuota needs to know from an Xray or V2Ray config: the inbounds that carry accounts
 * (vmess, vless, trojan, shadowsocks), how a customer reaches them, and which clients they hold.
 * Client emails are account names; they are lowercased here, because VLESS matches emails
 * case-insensitively while stat counters keep the case they were given.
 */
import { parseJsonc, type JsonObject, type JsonValue } from "./jsonc.js";

export const ACCOUNT_PROTOCOLS = ["vmess", "vless", "trojan", "shadowsocks"] as const;
export type AccountProtocol = (typeof ACCOUNT_PROTOCOLS)[number];

export interface XrayClient {
  /** Lowercased; null when the client has none (it then counts nothing). */
  email: string | null;
  /** vmess and vless. */
  id?: string;
  /** trojan and shadowsocks. */
  password?: string;
  /** shadowsocks cipher of this client (Xray multi-user), else the inbound's. */
  method?: string;
  /** vless, e.g. "xtls-rprx-vision". */
  flow?: string;
  level?: number;
  /** vmess; 0 means AEAD. */
  alterId?: number;
}

export interface XrayInbound {
  /** Inbounds without a tag cannot be edited through the API; kuota needs one. */
  tag: string | null;
  protocol: AccountProtocol;
  /** A number, or the engine's string forms ("443", "1000-2000", "env:PORT"). */
  port: number | string | null;
  listen: string | null;
  /** streamSettings.network: tcp, ws, grpc, httpupgrade, h2, xhttp, kcp, quic ... (default tcp) */
  network: string;
  /** URL path of ws, httpupgrade, h2 and xhttp, and of tcp with an http header. */
  path: string | null;
  /** The Host header the transport expects, if the config names one. */
  host: string | null;
  /** grpc only. */
  serviceName: string | null;
  /** tcp/kcp/quic header type ("none", "http", ...). */
  headerType: string | null;
  security: "none" | "tls" | "reality" | "xtls";
  /** tlsSettings.serverName, or the first of realitySettings.serverNames. */
  sni: string | null;
  /** ALPN list of tlsSettings, as given. */
  alpn: string[];
  /** Reality private key (base64url) and first short id, for share links. */
  reality: { privateKey: string; shortId: string } | null;
  /** shadowsocks: the inbound-level method (V2Ray's single user, Xray's default for clients). */
  method: string | null;
  /** False for V2Ray 4.x shadowsocks, which holds one user in `settings` and no `clients`. */
  multiUser: boolean;
  clients: XrayClient[];
}

export interface XrayConfig {
  inbounds: XrayInbound[];
  /** Things that make counting or editing go wrong, one line each (clients without email ...). */
  warnings: string[];
}

export interface XrayAccount {
  name: string;
  protocol: AccountProtocol;
  /** Tags of the inbounds holding this email; "#N" stands for an untagged inbound at index N. */
  inboundTags: string[];
}

/** One email on inbounds of different protocols: its counters mix, so it cannot be one account. */
export interface AccountConflict {
  name: string;
  protocols: AccountProtocol[];
  inboundTags: string[];
}

/**
 * Reads the inbounds that carry accounts. Other inbounds (the API's dokodemo-door, socks, http)
 * are skipped.
 * @param source what to call the text in error messages
 * @throws JsoncSyntaxError when the text is not a config the engine would decode
 */
export function readXrayConfig(text: string, source = "config"): XrayConfig {
  return interpretConfig(parseJsonc(text, source).value);
}

/** The same as readXrayConfig, for a value already parsed. */
export function interpretConfig(config: JsonValue): XrayConfig {
  const warnings: string[] = [];
  const inbounds: XrayInbound[] = [];
  const list = asArray(asObject(config)?.["inbounds"]);
  list.forEach((raw, index) => {
    const inbound = readInbound(raw, index, warnings);
    if (inbound) inbounds.push(inbound);
  });
  return { inbounds, warnings };
}

/** The label used for an inbound in reports: its tag, or "#N" by position. */
export function inboundLabel(tag: string | null, index: number): string {
  return tag ?? `#${index}`;
}

/**
 * The accounts the config defines: one per email, with every inbound that holds it. An email on
 * inbounds of two protocols is left out of `accounts` and reported in `conflicts`, because its
 * counters sum across protocols and kuota could not say which protocol the account is.
 */
export function listAccounts(config: XrayConfig): {
  accounts: XrayAccount[];
  conflicts: AccountConflict[];
} {
  const byName = new Map<string, { protocols: Set<AccountProtocol>; tags: string[] }>();
  config.inbounds.forEach((inbound, index) => {
    const label = inboundLabel(inbound.tag, index);
    for (const client of inbound.clients) {
      if (client.email === null) continue;
      let entry = byName.get(client.email);
      if (!entry) {
        entry = { protocols: new Set(), tags: [] };
        byName.set(client.email, entry);
      }
      entry.protocols.add(inbound.protocol);
      if (!entry.tags.includes(label)) entry.tags.push(label);
    }
  });
  const accounts: XrayAccount[] = [];
  const conflicts: AccountConflict[] = [];
  for (const [name, { protocols, tags }] of byName) {
    const [only, ...others] = [...protocols];
    if (only !== undefined && others.length === 0) {
      accounts.push({ name, protocol: only, inboundTags: tags });
    } else {
      conflicts.push({ name, protocols: [...protocols], inboundTags: tags });
    }
  }
  return { accounts, conflicts };
}

function readInbound(raw: JsonValue, index: number, warnings: string[]): XrayInbound | null {
  const inbound = asObject(raw);
  const protocol = asString(inbound?.["protocol"])?.toLowerCase();
  if (!inbound || !isAccountProtocol(protocol)) return null;
  const tag = asString(inbound["tag"]);
  const label = inboundLabel(tag, index);
  const settings = asObject(inbound["settings"]) ?? {};
  const stream = asObject(inbound["streamSettings"]) ?? {};
  const network = (asString(stream["network"]) ?? "tcp").toLowerCase();
  const security = readSecurity(asString(stream["security"]));
  const tls = asObject(stream["tlsSettings"]) ?? asObject(stream["xtlsSettings"]) ?? {};
  const realitySettings = asObject(stream["realitySettings"]);
  const method = asString(settings["method"]);
  const multiUser = protocol !== "shadowsocks" || Array.isArray(settings["clients"]);

  const rawClients = multiUser ? asArray(settings["clients"]) : [settings];
  const clients: XrayClient[] = [];
  for (const rawClient of rawClients) {
    const client = readClient(asObject(rawClient) ?? {});
    if (protocol === "shadowsocks" && client.method === undefined && method !== null) {
      client.method = method;
    }
    if (client.email === null) warnings.push(`${label}: a client without an email counts nothing`);
    clients.push(client);
  }
  const seen = new Set<string>();
  for (const client of clients) {
    if (client.email === null) continue;
    if (seen.has(client.email)) warnings.push(`${label}: email ${client.email} appears twice`);
    seen.add(client.email);
  }
  if (tag === null)
    warnings.push(`${label}: a ${protocol} inbound without a tag cannot be edited live`);

  return {
    tag,
    protocol,
    port: readPort(inbound["port"]),
    listen: asString(inbound["listen"]),
    network,
    ...readTransport(network, stream),
    security,
    sni: asString(tls["serverName"]) ?? asString(asArray(realitySettings?.["serverNames"])[0]),
    alpn: asArray(tls["alpn"]).filter((v): v is string => typeof v === "string"),
    reality:
      security === "reality" && realitySettings
        ? {
            privateKey: asString(realitySettings["privateKey"]) ?? "",
            shortId: asString(asArray(realitySettings["shortIds"])[0]) ?? "",
          }
        : null,
    method,
    multiUser,
    clients,
  };
}

function readClient(raw: JsonObject): XrayClient {
  const email = asString(raw["email"]);
  const client: XrayClient = { email: email === null || email === "" ? null : email.toLowerCase() };
  const id = asString(raw["id"]);
  if (id !== null) client.id = id;
  const password = asString(raw["password"]);
  if (password !== null) client.password = password;
  const method = asString(raw["method"]);
  if (method !== null) client.method = method;
  const flow = asString(raw["flow"]);
  if (flow !== null && flow !== "") client.flow = flow;
  const level = raw["level"];
  if (typeof level === "number") client.level = level;
  const alterId = raw["alterId"];
  if (typeof alterId === "number") client.alterId = alterId;
  return client;
}

function readSecurity(value: string | null): XrayInbound["security"] {
  switch (value?.toLowerCase()) {
    case "tls":
      return "tls";
    case "reality":
      return "reality";
    case "xtls":
      return "xtls";
    default:
      return "none";
  }
}

type Transport = Pick<XrayInbound, "path" | "host" | "serviceName" | "headerType">;

function readTransport(network: string, stream: JsonObject): Transport {
  const none: Transport = { path: null, host: null, serviceName: null, headerType: null };
  switch (network) {
    case "ws":
    case "websocket": {
      const ws = asObject(stream["wsSettings"]) ?? {};
      const headers = asObject(ws["headers"]) ?? {};
      return {
        ...none,
        path: asString(ws["path"]) ?? "/",
        host: asString(ws["host"]) ?? asString(headers["Host"]) ?? asString(headers["host"]),
      };
    }
    case "httpupgrade":
    case "splithttp":
    case "xhttp": {
      const key = network === "httpupgrade" ? "httpupgradeSettings" : `${network}Settings`;
      const settings = asObject(stream[key]) ?? {};
      return { ...none, path: asString(settings["path"]) ?? "/", host: asString(settings["host"]) };
    }
    case "h2":
    case "http": {
      const http = asObject(stream["httpSettings"]) ?? {};
      return {
        ...none,
        path: asString(http["path"]) ?? "/",
        host: asString(asArray(http["host"])[0]),
      };
    }
    case "grpc":
    case "gun": {
      const grpc = asObject(stream["grpcSettings"]) ?? {};
      return { ...none, serviceName: asString(grpc["serviceName"]) ?? "" };
    }
    case "tcp":
    case "raw": {
      const tcp = asObject(stream["tcpSettings"]) ?? asObject(stream["rawSettings"]) ?? {};
      const header = asObject(tcp["header"]) ?? {};
      const type = asString(header["type"]) ?? "none";
      if (type !== "http") return { ...none, headerType: type };
      const request = asObject(header["request"]) ?? {};
      const headers = asObject(request["headers"]) ?? {};
      return {
        ...none,
        headerType: type,
        path: asString(asArray(request["path"])[0]) ?? "/",
        host: asString(asArray(headers["Host"])[0]) ?? asString(headers["Host"]),
      };
    }
    case "kcp":
    case "mkcp": {
      const kcp = asObject(stream["kcpSettings"]) ?? {};
      return { ...none, headerType: asString(asObject(kcp["header"])?.["type"]) ?? "none" };
    }
    case "quic": {
      const quic = asObject(stream["quicSettings"]) ?? {};
      return { ...none, headerType: asString(asObject(quic["header"])?.["type"]) ?? "none" };
    }
    default:
      return none;
  }
}

function readPort(value: JsonValue | undefined): number | string | null {
  if (typeof value === "number") return value;
  if (typeof value === "string") return /^\d+$/.test(value) ? Number(value) : value;
  return null;
}

function isAccountProtocol(value: string | undefined): value is AccountProtocol {
  return (ACCOUNT_PROTOCOLS as readonly string[]).includes(value ?? "");
}

export function asObject(value: JsonValue | undefined): JsonObject | null {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? value : null;
}

function asArray(value: JsonValue | undefined): JsonValue[] {
  return Array.isArray(value) ? value : [];
}

function asString(value: JsonValue | undefined): string | null {
  return typeof value === "string" ? value : null;
}
