/**
 * Which service a captured connection belongs to: SSH, VMESS, VLESS, TROJAN, SHADOWSOCKS, a name
 * the seller configured, or else the destination port as text.
 *
 * Rules come from three places, most specific first:
 * 1. `CAPTURE_SERVICE_MAP` entries: `sni:HOST=NAME` (the SNI or HTTP Host), `PORT:/PATH=NAME`
 *    (HTTP path prefix on a port) and `PORT=NAME`;
 * 2. Xray's inbounds in `XRAY_CONFIG`: a WebSocket/HTTP path (`/vless` → VLESS, on any port, since
 *    nginx usually fronts it on 80/443), then an inbound's own port;
 * 3. `SSH_PORTS` → SSH.
 */
import type { XrayInbound } from "../accounts/xray-config.js";
import { normalizeHostName } from "./host-name.js";

/** One `CAPTURE_SERVICE_MAP` entry. */
export type ServiceRule =
  | { match: "sni"; host: string; service: string }
  | { match: "path"; port: number; path: string; service: string }
  | { match: "port"; port: number; service: string };

/** What is known about a connection when its service is decided. */
export type ConnectionFacts = {
  destPort: number;
  /** SNI or HTTP Host, normalized. */
  host: string;
  /** HTTP request target; absent for TLS. */
  path?: string;
};

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;

/**
 * Reads `CAPTURE_SERVICE_MAP`: comma-separated `KEY=NAME` with KEY `sni:HOST`, `PORT:/PATH` or
 * `PORT`; NAME is stored uppercased. Returns the rules, or the first mistake as a message.
 */
export function parseServiceMap(text: string): { rules: ServiceRule[] } | { error: string } {
  const rules: ServiceRule[] = [];
  for (const raw of text.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const eq = entry.lastIndexOf("=");
    const key = entry.slice(0, Math.max(eq, 0)).trim();
    const name = entry.slice(eq + 1).trim();
    if (eq <= 0 || !SERVICE_NAME.test(name)) {
      return { error: `"${entry}" is not KEY=NAME (NAME: letters, digits, . _ -)` };
    }
    const service = name.toUpperCase();
    if (key.toLowerCase().startsWith("sni:")) {
      const host = normalizeHostName(key.slice(4));
      if (host === null) return { error: `"${key.slice(4)}" in "${entry}" is not a host name` };
      rules.push({ match: "sni", host, service });
      continue;
    }
    const colon = key.indexOf(":");
    const port = portOf(colon < 0 ? key : key.slice(0, colon));
    if (port === null) return { error: `"${entry}" does not start with a TCP port or sni:` };
    if (colon < 0) {
      rules.push({ match: "port", port, service });
      continue;
    }
    const path = key.slice(colon + 1);
    if (!path.startsWith("/")) return { error: `the path in "${entry}" must start with /` };
    rules.push({ match: "path", port, path, service });
  }
  return { rules };
}

function portOf(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

/** Decides services from the configured rules, Xray's inbounds and the SSH ports. */
export class ServiceResolver {
  readonly #sni = new Map<string, string>();
  /** Configured `PORT:/PATH` rules: only on their port. */
  readonly #portPaths: { port: number; path: string; service: string }[] = [];
  /** Xray inbound paths: on any port (nginx fronts them on 80/443). */
  readonly #inboundPaths: { path: string; service: string }[] = [];
  readonly #ports = new Map<number, string>();

  constructor(
    rules: readonly ServiceRule[],
    inbounds: readonly XrayInbound[],
    sshPorts: readonly number[],
  ) {
    for (const port of sshPorts) this.#ports.set(port, "SSH");
    for (const inbound of inbounds) {
      const service = inbound.protocol.toUpperCase();
      if (typeof inbound.port === "number") this.#ports.set(inbound.port, service);
      if (inbound.path?.startsWith("/")) this.#inboundPaths.push({ path: inbound.path, service });
    }
    for (const rule of rules) {
      if (rule.match === "sni") this.#sni.set(rule.host, rule.service);
      else if (rule.match === "path") this.#portPaths.push(rule);
      else this.#ports.set(rule.port, rule.service);
    }
    // Longer paths before their prefixes.
    this.#portPaths.sort((a, b) => b.path.length - a.path.length);
    this.#inboundPaths.sort((a, b) => b.path.length - a.path.length);
  }

  /** The service of one connection; the destination port as text when nothing matches. */
  resolve(facts: ConnectionFacts): string {
    const bySni = this.#sni.get(facts.host);
    if (bySni !== undefined) return bySni;
    const path = facts.path;
    if (path !== undefined) {
      const hit =
        this.#portPaths.find((p) => p.port === facts.destPort && pathMatches(path, p.path)) ??
        this.#inboundPaths.find((p) => pathMatches(path, p.path));
      if (hit !== undefined) return hit.service;
    }
    return this.#ports.get(facts.destPort) ?? String(facts.destPort);
  }
}

/** `/vless` matches `/vless`, `/vless?ed=2048` and `/vless/x`, not `/vlessx`. */
function pathMatches(target: string, prefix: string): boolean {
  if (!target.startsWith(prefix)) return false;
  if (target.length === prefix.length || prefix.endsWith("/")) return true;
  const next = target[prefix.length];
  return next === "/" || next === "?" || next === "#";
}
