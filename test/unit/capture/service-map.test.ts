import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ServiceResolver,
  parseServiceMap,
  type ServiceRule,
} from "../../../src/capture/service-map.js";
import { readXrayConfig } from "../../../src/accounts/xray-config.js";

function rules(text: string): ServiceRule[] {
  const parsed = parseServiceMap(text);
  assert.ok("rules" in parsed, `parses ${text}`);
  return parsed.rules;
}

const inbounds = readXrayConfig(
  JSON.stringify({
    inbounds: [
      {
        tag: "vless-ws",
        port: 10001,
        protocol: "vless",
        settings: { clients: [] },
        streamSettings: { network: "ws", wsSettings: { path: "/vless" } },
      },
      {
        tag: "vmess-ws",
        port: 10002,
        protocol: "vmess",
        settings: { clients: [] },
        streamSettings: { network: "ws", wsSettings: { path: "/vmess" } },
      },
      { tag: "trojan", port: 8443, protocol: "trojan", settings: { clients: [] } },
    ],
  }),
).inbounds;

test("reads sni:, PORT:/PATH and PORT entries and uppercases names", () => {
  assert.deepEqual(rules(" 443:/vless=vless, 777=ssh ,sni:WS.Example.com.=VLESS,"), [
    { match: "path", port: 443, path: "/vless", service: "VLESS" },
    { match: "port", port: 777, service: "SSH" },
    { match: "sni", host: "ws.example.com", service: "VLESS" },
  ]);
  assert.deepEqual(rules(""), []);
});

test("refuses entries that are not KEY=NAME with a port, path or host", () => {
  for (const bad of [
    "443",
    "=VLESS",
    "70000=X",
    "abc=X",
    "443:vless=X",
    "sni:bad host=X",
    "443=a b",
  ]) {
    assert.ok("error" in parseServiceMap(bad), `refuses ${bad}`);
  }
});

test("names the service by SNI, then configured path, inbound path, port, SSH port, else the port", () => {
  const resolver = new ServiceResolver(
    rules("sni:cdn.example.com=TROJAN,80:/special=SPECIAL,2052=GAME"),
    inbounds,
    [22, 777],
  );
  const r = (destPort: number, host: string, path?: string) =>
    resolver.resolve(path === undefined ? { destPort, host } : { destPort, host, path });
  assert.equal(r(443, "cdn.example.com"), "TROJAN", "SNI map wins");
  assert.equal(r(80, "a.test", "/special/x"), "SPECIAL", "configured path on its port");
  assert.equal(r(8080, "a.test", "/special"), "8080", "configured path only on its port");
  assert.equal(r(80, "a.test", "/vless?ed=2048"), "VLESS", "inbound path on a fronting port");
  assert.equal(r(80, "a.test", "/vmess/"), "VMESS");
  assert.equal(r(80, "a.test", "/vlessx"), "80", "a longer segment is another path");
  assert.equal(r(8443, "a.test"), "TROJAN", "an inbound's own port");
  assert.equal(r(777, "a.test"), "SSH", "SSH_PORTS");
  assert.equal(r(2052, "a.test"), "GAME", "configured port");
  assert.equal(r(8880, "a.test"), "8880", "unknown: the port");
});
