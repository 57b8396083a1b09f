import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  newClient,
  newPassword,
  newShadowsocksPassword,
  newUuid,
} from "../../../src/accounts/credentials.js";
import { realityPublicKey, shareLink } from "../../../src/accounts/share-links.js";
import { readXrayConfig, type XrayInbound } from "../../../src/accounts/xray-config.js";
import { OperatorError } from "../../../src/core/errors.js";

const v2ray = readXrayConfig(
  readFileSync("test/fixtures/xray/autoscript-v2ray.json", "utf8"),
).inbounds;
const xray = readXrayConfig(readFileSync("test/fixtures/xray/xray-multi.json", "utf8")).inbounds;
const byTag = (tag: string): XrayInbound => {
  const found = [...v2ray, ...xray].find((i) => i.tag === tag);
  assert.ok(found, tag);
  return found;
};

test("makes v4 UUIDs and strong passwords", () => {
  assert.match(newUuid(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const passwords = new Set(Array.from({ length: 1000 }, () => newPassword()));
  assert.equal(passwords.size, 1000);
  for (const p of passwords) assert.match(p, /^[a-km-zA-HJ-NP-Z2-9]{24}$/);
  assert.equal(Buffer.from(newShadowsocksPassword("2022-blake3-aes-256-gcm"), "base64").length, 32);
  assert.equal(Buffer.from(newShadowsocksPassword("2022-blake3-aes-128-gcm"), "base64").length, 16);
});

test("builds clients that fit their inbound", () => {
  const vmess = newClient(byTag("vmess-ws"), "zaki").config;
  assert.deepEqual(Object.keys(vmess), ["id", "alterId", "email"]);
  const vless = newClient(byTag("vless-reality"), "zaki").config;
  assert.equal(vless["flow"], "xtls-rprx-vision");
  assert.equal(vless["level"], 0);
  const ss2022 = newClient(byTag("ss-2022"), "zaki");
  assert.equal(ss2022.config["method"], undefined, "2022 ciphers come from the inbound");
  assert.equal(ss2022.client.method, "2022-blake3-aes-128-gcm");
  assert.equal(Buffer.from(String(ss2022.config["password"]), "base64").length, 16);
  assert.throws(() => newClient(byTag("ss-in"), "zaki"), OperatorError);
});

test("vmess:// is base64 of the v2rayN JSON", () => {
  const inbound = byTag("vmess-ws");
  const link = shareLink(inbound, inbound.clients[1]!, {
    host: "vpn.example.com",
    port: 443,
    security: "tls",
  });
  assert.ok(link.startsWith("vmess://"));
  const body: unknown = JSON.parse(Buffer.from(link.slice(8), "base64").toString("utf8"));
  assert.deepEqual(body, {
    v: "2",
    ps: "citra",
    add: "vpn.example.com",
    port: "443",
    id: "7e3a2b1c-0d9f-4e8a-b7c6-5d4e3f2a1b0c",
    aid: "0",
    scy: "auto",
    net: "ws",
    type: "none",
    host: "",
    path: "/vmess",
    tls: "tls",
    sni: "vpn.example.com",
    alpn: "",
  });
});

test("vless:// carries transport and TLS in the query, the name in the fragment", () => {
  const inbound = byTag("vless-ws");
  const url = new URL(
    shareLink(inbound, inbound.clients[1]!, {
      host: "vpn.example.com",
      port: 443,
      security: "tls",
    }),
  );
  assert.equal(url.protocol, "vless:");
  assert.equal(url.username, "0a6f4c0e-3b59-4c1e-9d57-2d8a5e0d3c11");
  assert.equal(url.hostname, "vpn.example.com");
  assert.equal(url.port, "443");
  assert.deepEqual(Object.fromEntries(url.searchParams), {
    encryption: "none",
    type: "ws",
    security: "tls",
    path: "/vless",
    sni: "vpn.example.com",
  });
  assert.equal(decodeURIComponent(url.hash.slice(1)), "andi");
  assert.ok(
    shareLink(inbound, inbound.clients[1]!, { host: "1.2.3.4" }).includes("@1.2.3.4:14016?"),
  );
});

test("vless:// with reality carries the derived public key", () => {
  const inbound = byTag("vless-reality");
  const url = new URL(shareLink(inbound, inbound.clients[0]!, { host: "2001:db8::1" }));
  assert.equal(url.hostname, "[2001:db8::1]");
  assert.equal(url.searchParams.get("security"), "reality");
  assert.equal(url.searchParams.get("flow"), "xtls-rprx-vision");
  assert.equal(url.searchParams.get("sni"), "www.microsoft.com");
  assert.equal(url.searchParams.get("pbk"), "E59WjnvZcQMu7tR7_BgyhycuEdBS-CtKxfImRCdAvFM");
  assert.equal(url.searchParams.get("sid"), "6ba85179e30d4fc2");
  assert.throws(() => realityPublicKey("short"), OperatorError);
});

test("trojan:// keeps a # in the path out of the fragment", () => {
  const inbound = byTag("trojan-ws");
  const url = new URL(shareLink(inbound, inbound.clients[1]!, { host: "vpn.example.com" }));
  assert.equal(url.username, "Dw8qf3Kp2ZxY7mNa");
  assert.equal(url.port, "2083");
  assert.equal(url.searchParams.get("path"), "/trojan-ws#x");
  assert.equal(url.searchParams.get("security"), "tls");
  assert.equal(url.searchParams.get("sni"), "vpn.example.com");
  assert.equal(url.hash, "#dedi");
  const grpc = byTag("vmess-grpc");
  assert.equal(grpc.port, 8443);
});

test("ss:// follows SIP002", () => {
  const single = byTag("ss-in");
  const url = new URL(shareLink(single, single.clients[0]!, { host: "vpn.example.com" }));
  assert.equal(
    Buffer.from(url.username, "base64url").toString(),
    "aes-128-gcm:ss-single-user-pass",
  );
  assert.equal(url.host, "vpn.example.com:8388");
  assert.equal(url.hash, "#eko");
  const ss2022 = byTag("ss-2022");
  const modern = new URL(shareLink(ss2022, ss2022.clients[0]!, { host: "vpn.example.com" }));
  assert.equal(decodeURIComponent(modern.username), "2022-blake3-aes-128-gcm");
  assert.equal(decodeURIComponent(modern.password), "3pmKMXVX5zYtmRjSEMCFQA==");
});

test("refuses a port range without a public port", () => {
  const inbound = { ...byTag("vless-ws"), port: "1000-2000" };
  assert.throws(() => shareLink(inbound, inbound.clients[0]!, { host: "h" }), /not one number/);
  assert.ok(shareLink(inbound, inbound.clients[0]!, { host: "h", port: 443 }).includes("@h:443?"));
});
