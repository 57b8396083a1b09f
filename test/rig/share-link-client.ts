import type { V2rayConfig } from "./v2ray.js";

/**
 * A v2ray client config built from nothing but a share link (vmess://, vless://, trojan://):
 * one SOCKS inbound on 127.0.0.1:`socksPort` and one outbound holding the link's address, port,
 * secret, transport (tcp or ws with its path) and TLS (self-signed certificates accepted, as the
 * rig makes them). Tests use it to prove a link alone is enough to connect.
 */
export function clientFromLink(link: string, socksPort: number): V2rayConfig {
  let protocol: string;
  let address: string;
  let port: number;
  let secret: string;
  let network = "tcp";
  let path: string | null = null;
  let security = "none";
  let sni: string | null = null;
  if (link.startsWith("vmess://")) {
    const body = JSON.parse(Buffer.from(link.slice(8), "base64").toString("utf8")) as Record<
      string,
      string
    >;
    protocol = "vmess";
    address = body["add"] ?? "";
    port = Number(body["port"]);
    secret = body["id"] ?? "";
    network = body["net"] || "tcp";
    path = body["path"] || null;
    security = body["tls"] === "tls" ? "tls" : "none";
    sni = body["sni"] || null;
  } else {
    const url = new URL(link);
    protocol = url.protocol.replace(":", "");
    address = url.hostname.replace(/^\[|\]$/g, "");
    port = Number(url.port);
    secret = decodeURIComponent(url.username);
    network = url.searchParams.get("type") ?? "tcp";
    path = url.searchParams.get("path");
    security = url.searchParams.get("security") ?? "none";
    sni = url.searchParams.get("sni");
  }
  const settings =
    protocol === "trojan"
      ? { servers: [{ address, port, password: secret }] }
      : {
          vnext: [
            {
              address,
              port,
              users: [
                protocol === "vmess"
                  ? { id: secret, alterId: 0, security: "auto" }
                  : { id: secret, encryption: "none" },
              ],
            },
          ],
        };
  const stream: Record<string, unknown> = { network };
  if (network === "ws") stream["wsSettings"] = { path: path ?? "/" };
  if (security === "tls") {
    // the rig's certificate is self-signed
    stream["security"] = "tls";
    stream["tlsSettings"] = { serverName: sni ?? "localhost", allowInsecure: true };
  }
  return {
    log: { loglevel: "warning" },
    inbounds: [
      {
        tag: "socks-in",
        listen: "127.0.0.1",
        port: socksPort,
        protocol: "socks",
        settings: { auth: "noauth", udp: false },
      },
    ],
    outbounds: [{ tag: "proxy", protocol, settings, streamSettings: stream }],
  };
}
