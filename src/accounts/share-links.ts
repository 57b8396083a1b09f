/**
 * The links sellers hand to customers, read by v2rayNG, v2rayN, NekoBox, Shadowrocket and the
 * like: `vmess://` (base64 of the v2rayN JSON, version 2), `vless://`, `trojan://` and `ss://`
 * (SIP002). They are built from the inbound as the config describes it and the public host
 * customers dial (`KUOTA_PUBLIC_HOST`).
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { OperatorError } from "../core/errors.js";
import type { XrayClient, XrayInbound } from "./xray-config.js";

/** Where customers connect; overrides for inbounds that sit behind a reverse proxy. */
export interface PublicEndpoint {
  /** Domain or IP address customers dial (KUOTA_PUBLIC_HOST). */
  host: string;
  /** Public port when it differs from the inbound's (nginx on 443 in front of 127.0.0.1:10001). */
  port?: number;
  /** Public security when a proxy terminates TLS in front of a plain inbound. */
  security?: "tls" | "none";
  /** TLS server name; defaults to the inbound's, else to `host` when it is a domain. */
  sni?: string;
}

/**
 * The share link for one client of one inbound, named after the client's email.
 * @throws OperatorError when the inbound's port is not a single number and no port is given,
 *   when the client lacks its secret, or for Shadowsocks over a transport other than tcp
 */
export function shareLink(
  inbound: XrayInbound,
  client: XrayClient,
  endpoint: PublicEndpoint,
): string {
  const link = linkParts(inbound, client, endpoint);
  switch (inbound.protocol) {
    case "vmess":
      return vmessLink(link, inbound, client);
    case "vless":
      return uriLink("vless", need(client.id, "id", link.name), link, inbound, client);
    case "trojan":
      return uriLink("trojan", need(client.password, "password", link.name), link, inbound, client);
    case "shadowsocks":
      return shadowsocksLink(link, inbound, client);
  }
}

interface LinkParts {
  name: string;
  host: string;
  port: number;
  tls: boolean;
  reality: boolean;
  sni: string | null;
}

function linkParts(inbound: XrayInbound, client: XrayClient, endpoint: PublicEndpoint): LinkParts {
  const port = endpoint.port ?? inbound.port;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new OperatorError(
      `inbound ${inbound.tag ?? "(untagged)"} has port ${String(inbound.port)}, not one number`,
      "give the public port customers should use",
    );
  }
  const reality = inbound.security === "reality" && endpoint.security === undefined;
  const tls = endpoint.security
    ? endpoint.security === "tls"
    : inbound.security === "tls" || inbound.security === "xtls";
  const hostIsDomain = !/^[\d.]+$/.test(endpoint.host) && !endpoint.host.includes(":");
  const sni = endpoint.sni ?? inbound.sni ?? (tls && hostIsDomain ? endpoint.host : null);
  return { name: client.email ?? "", host: endpoint.host, port, tls, reality, sni };
}

function need(value: string | undefined, what: string, name: string): string {
  if (value === undefined || value === "") {
    throw new OperatorError(`client ${name} has no ${what}`, "fix the client in the engine config");
  }
  return value;
}

/** IPv6 addresses go in brackets inside URLs. */
function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

function vmessLink(link: LinkParts, inbound: XrayInbound, client: XrayClient): string {
  const grpc = inbound.network === "grpc";
  const body = {
    v: "2",
    ps: link.name,
    add: link.host,
    port: String(link.port),
    id: need(client.id, "id", link.name),
    aid: String(client.alterId ?? 0),
    scy: "auto",
    net: inbound.network,
    type: grpc ? "gun" : (inbound.headerType ?? "none"),
    host: inbound.host ?? "",
    path: grpc ? (inbound.serviceName ?? "") : (inbound.path ?? ""),
    tls: link.tls ? "tls" : "",
    sni: link.sni ?? "",
    alpn: inbound.alpn.join(","),
  };
  return `vmess://${Buffer.from(JSON.stringify(body), "utf8").toString("base64")}`;
}

function uriLink(
  scheme: "vless" | "trojan",
  secret: string,
  link: LinkParts,
  inbound: XrayInbound,
  client: XrayClient,
): string {
  const query = new URLSearchParams();
  if (scheme === "vless") query.set("encryption", "none");
  if (client.flow) query.set("flow", client.flow);
  query.set("type", inbound.network);
  query.set("security", link.reality ? "reality" : link.tls ? "tls" : "none");
  addTransport(query, inbound);
  if (link.sni) query.set("sni", link.sni);
  if (link.tls && inbound.alpn.length > 0) query.set("alpn", inbound.alpn.join(","));
  if (link.reality && inbound.reality) {
    query.set("pbk", realityPublicKey(inbound.reality.privateKey));
    if (inbound.reality.shortId) query.set("sid", inbound.reality.shortId);
    query.set("fp", "chrome");
  }
  const search = query.toString().replace(/\+/g, "%20");
  return `${scheme}://${encodeURIComponent(secret)}@${urlHost(link.host)}:${link.port}?${search}#${encodeURIComponent(link.name)}`;
}

function addTransport(query: URLSearchParams, inbound: XrayInbound): void {
  if (inbound.network === "grpc") {
    query.set("serviceName", inbound.serviceName ?? "");
    query.set("mode", "gun");
    return;
  }
  if (inbound.headerType && inbound.headerType !== "none")
    query.set("headerType", inbound.headerType);
  if (inbound.path !== null) query.set("path", inbound.path);
  if (inbound.host) query.set("host", inbound.host);
}

function shadowsocksLink(link: LinkParts, inbound: XrayInbound, client: XrayClient): string {
  if (inbound.network !== "tcp" && inbound.network !== "raw") {
    throw new OperatorError(
      `no standard share link for shadowsocks over ${inbound.network} (inbound ${inbound.tag ?? "(untagged)"})`,
      "give customers the host, port, method and password by hand",
    );
  }
  const method = need(client.method ?? inbound.method ?? undefined, "method", link.name);
  const password = need(client.password, "password", link.name);
  // SIP002: 2022 ciphers take percent-encoded method:password, older ones base64url of it.
  const userinfo = method.toLowerCase().startsWith("2022-")
    ? `${encodeURIComponent(method)}:${encodeURIComponent(password)}`
    : Buffer.from(`${method}:${password}`, "utf8").toString("base64url");
  return `ss://${userinfo}@${urlHost(link.host)}:${link.port}#${encodeURIComponent(link.name)}`;
}

/** The Reality public key (base64url) clients need, derived from the server's X25519 private key. */
export function realityPublicKey(privateKey: string): string {
  const raw = Buffer.from(privateKey, "base64url");
  if (raw.length !== 32) {
    throw new OperatorError(
      "realitySettings.privateKey is not a 32-byte base64url key",
      "generate one with `xray x25519`",
    );
  }
  // PKCS#8 wrapping of a raw X25519 private key (RFC 8410).
  const der = Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), raw]);
  const key = createPublicKey(createPrivateKey({ key: der, format: "der", type: "pkcs8" }));
  const jwk = key.export({ format: "jwk" });
  return jwk.x ?? "";
}
