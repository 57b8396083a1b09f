import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { listAccounts, readXrayConfig } from "../../../src/accounts/xray-config.js";
import { JsoncSyntaxError } from "../../../src/accounts/jsonc.js";

const fixture = (name: string) => readFileSync(`test/fixtures/xray/${name}`, "utf8");

test("reads the account inbounds of an autoscript config and skips the API inbound", () => {
  const config = readXrayConfig(fixture("autoscript-v2ray.json"));
  assert.deepEqual(
    config.inbounds.map((i) => [i.tag, i.protocol, i.port, i.network, i.path, i.security]),
    [
      ["vless-ws", "vless", 14016, "ws", "/vless", "none"],
      ["vmess-ws", "vmess", 23456, "ws", "/vmess", "none"],
      ["trojan-ws", "trojan", 2083, "ws", "/trojan-ws#x", "tls"],
      ["ss-in", "shadowsocks", 8388, "tcp", null, "none"],
    ],
  );
  assert.deepEqual(
    config.inbounds[0]!.clients.map((c) => c.email),
    ["admin-vless", "andi", "budi"],
  );
  assert.equal(config.inbounds[2]!.sni, "vpn.example.com");
  assert.deepEqual(config.warnings, []);
});

test("reads V2Ray's single-user shadowsocks inbound as one client", () => {
  const ss = readXrayConfig(fixture("autoscript-v2ray.json")).inbounds[3]!;
  assert.equal(ss.multiUser, false);
  assert.deepEqual(ss.clients, [
    { email: "eko", password: "ss-single-user-pass", method: "aes-128-gcm" },
  ]);
});

test("reads Xray transports, reality, multi-user shadowsocks, and lowercases emails", () => {
  const [reality, grpc, ss, hu] = readXrayConfig(fixture("xray-multi.json")).inbounds;
  assert.equal(reality?.security, "reality");
  assert.equal(reality?.sni, "www.microsoft.com");
  assert.deepEqual(reality?.reality, {
    privateKey: "aGSYystUbf59_9_6LKRxD27rmSW_-2_nyd9YG_Gwbks",
    shortId: "6ba85179e30d4fc2",
  });
  assert.deepEqual(reality?.clients[0], {
    email: "fajar",
    id: "9c2f4a8e-1b3d-4e5f-8a7b-6c5d4e3f2a1b",
    flow: "xtls-rprx-vision",
    level: 0,
  });
  assert.equal(grpc?.port, 8443, "a numeric string port is a number");
  assert.equal(grpc?.serviceName, "vmess-grpc");
  assert.deepEqual(grpc?.alpn, ["h2"]);
  assert.equal(ss?.multiUser, true);
  assert.equal(ss?.clients[0]?.method, "2022-blake3-aes-128-gcm", "inherits the inbound's cipher");
  assert.deepEqual(
    [hu?.network, hu?.path, hu?.host],
    ["httpupgrade", "/trojan-hu", "hu.example.com"],
  );
});

test("lists accounts and reports an email on inbounds of two protocols as a conflict", () => {
  const listing = listAccounts(readXrayConfig(fixture("xray-multi.json")));
  assert.deepEqual(listing.accounts, [
    { name: "fajar", protocol: "vless", inboundTags: ["vless-reality"] },
  ]);
  assert.deepEqual(listing.conflicts, [
    { name: "gita", protocols: ["shadowsocks", "vmess"], inboundTags: ["ss-2022", "vmess-tcp"] },
  ]);
});

test("one email on two inbounds of the same protocol is one account", () => {
  const text = JSON.stringify({
    inbounds: [
      { tag: "a", protocol: "vless", settings: { clients: [{ id: "1", email: "Hana" }] } },
      { tag: "b", protocol: "vless", settings: { clients: [{ id: "1", email: "hana" }] } },
    ],
  });
  assert.deepEqual(listAccounts(readXrayConfig(text)).accounts, [
    { name: "hana", protocol: "vless", inboundTags: ["a", "b"] },
  ]);
});

test("warns about clients that will count nothing and inbounds that cannot be edited", () => {
  const text = JSON.stringify({
    inbounds: [
      {
        protocol: "trojan",
        settings: {
          clients: [
            { password: "p" },
            { password: "q", email: "x" },
            { password: "r", email: "X" },
          ],
        },
      },
    ],
  });
  assert.deepEqual(readXrayConfig(text).warnings, [
    "#0: a client without an email counts nothing",
    "#0: email x appears twice",
    "#0: a trojan inbound without a tag cannot be edited live",
  ]);
});

test("a broken file is a JsoncSyntaxError naming the source", () => {
  assert.throws(
    () => readXrayConfig('{"inbounds": [}', "/etc/xray/config.json"),
    (err) => {
      return (
        err instanceof JsoncSyntaxError && err.message.startsWith("/etc/xray/config.json: line 1")
      );
    },
  );
});
