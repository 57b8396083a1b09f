import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseAccessLine } from "../../../src/capture/xray-access-line.js";

test("reads Xray lines with the inbound tag and microseconds", () => {
  const entry = parseAccessLine(
    "2026/12/03 18:20:01.123456 from 1.2.3.4:5678 accepted tcp:WWW.Example.com.:443 [vless-in -> direct] email: Alice",
  );
  assert.deepEqual(entry, {
    tsMs: new Date(2026, 11, 3, 18, 20, 1).getTime(),
    sourceIp: "1.2.3.4",
    host: "www.example.com",
    destPort: 443,
    inboundTag: "vless-in",
    outboundTag: "direct",
    account: "alice",
  });
});

test("reads V2Ray 4.34 lines, which name only the outbound", () => {
  const entry = parseAccessLine(
    "2026/12/03 18:20:01 127.0.0.1:43210 accepted tcp:example.com:443 [direct] email: alice",
  );
  assert.equal(entry?.host, "example.com", "the destination");
  assert.equal(entry?.inboundTag, null, "no inbound tag");
  assert.equal(entry?.outboundTag, "direct");
  assert.equal(entry?.account, "alice");
  const older = parseAccessLine(
    "2026/12/03 18:20:01 from tcp:[2001:db8::1]:5 accepted udp:dns.google:53 [in >> out]",
  );
  assert.equal(older?.sourceIp, "2001:db8::1", "IPv6 source in brackets");
  assert.equal(older?.inboundTag, "in", "older Xray's >> separator");
  assert.equal(older?.account, null, "no email");
});

test("skips IP destinations, API traffic, rejected and foreign lines", () => {
  for (const line of [
    "2026/12/03 18:20:01 from 1.2.3.4:5 accepted tcp:93.184.216.34:443 [in -> direct] email: a",
    "2026/12/03 18:20:01 from 1.2.3.4:5 accepted tcp:[2001:db8::1]:443 [in -> direct] email: a",
    "2026/12/03 18:20:01 127.0.0.1:5 accepted tcp:127.0.0.1:0 [api]",
    "2026/12/03 18:20:01 from 127.0.0.1:5 accepted tcp:api.local:0 [api-in -> api]",
    "2026/12/03 18:20:01 from 1.2.3.4:5 rejected  proxy/vless/encoding: invalid request",
    "[Info] app/dispatcher: taking detour [direct] for [tcp:example.com:443]",
    "",
  ]) {
    assert.equal(parseAccessLine(line), null, `skips ${line}`);
  }
});

test("never throws on arbitrary lines (10,000 cases)", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (line) => {
      parseAccessLine(line);
      parseAccessLine(`2026/12/03 18:20:01 from 1.2.3.4:5 accepted tcp:${line}`);
    }),
    { numRuns: 10_000 },
  );
});
