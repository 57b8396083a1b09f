import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseAccessLine, sourcesOf } from "../../../src/lifecycle/access-log.js";

const V2RAY =
  "2026/12/03 18:26:09 127.0.0.1:36128 accepted tcp:127.0.0.1:23458 [direct] email: bob";
const XRAY =
  "2026/12/03 18:26:09.123456 from 203.0.113.7:41234 accepted tcp:example.com:443 [vless-in -> direct] email: Alice";

test("reads V2Ray 4.x lines (no inbound tag) and Xray lines (inbound -> outbound)", () => {
  assert.deepEqual(parseAccessLine(V2RAY), {
    ip: "127.0.0.1",
    port: 36128,
    inboundTag: null,
    email: "bob",
  });
  assert.deepEqual(parseAccessLine(XRAY), {
    ip: "203.0.113.7",
    port: 41234,
    inboundTag: "vless-in",
    email: "alice",
  });
});

test("reads IPv6 and IPv4-mapped sources, older `>>` routes and `from tcp:` sources", () => {
  const v6 = parseAccessLine(
    "2026/12/03 18:26:09 from [2001:DB8::1]:5000 accepted tcp:a.b:443 [vmess-in >> direct] email: x",
  );
  assert.deepEqual(v6, { ip: "2001:db8::1", port: 5000, inboundTag: "vmess-in", email: "x" });
  const mapped = parseAccessLine(
    "2026/12/03 18:26:09 from tcp:[::ffff:10.0.0.2]:6000 accepted udp:8.8.8.8:53 [t -> d] email: y",
  );
  assert.deepEqual(mapped, { ip: "10.0.0.2", port: 6000, inboundTag: "t", email: "y" });
});

test("ignores rejected lines, UDP sources, engine log lines and garbage", () => {
  for (const line of [
    "2026/12/03 18:26:09 127.0.0.1:36128 rejected  v2ray.com/core/proxy/vless/inbound: invalid request user id",
    "2026/12/03 18:26:09 from udp:1.2.3.4:53 accepted udp:8.8.8.8:53 [ss -> direct] email: z",
    "2026/12/03 18:26:09 [Info] v2ray.com/core: V2Ray 4.34.0 started",
    "2026/12/03 18:26:09 999.1.1.1:80 accepted tcp:a:1 [direct] email: q",
    "2026/12/03 18:26:09 1.1.1.1:0 accepted tcp:a:1 [direct] email: q",
    "",
  ]) {
    assert.equal(parseAccessLine(line), null, line);
  }
});

test("a source is the account's only if the latest line from it names the account", () => {
  const log = [
    "2026/12/03 10:00:00 127.0.0.1:5001 accepted tcp:a:80 [direct] email: bob",
    "2026/12/03 10:00:01 127.0.0.1:5002 accepted tcp:a:80 [direct] email: bob",
    "2026/12/03 10:00:02 127.0.0.1:5001 accepted tcp:a:80 [direct] email: alice",
    "2026/12/03 10:00:03 127.0.0.1:5003 accepted tcp:a:80 [direct] email: BOB",
    "2026/12/03 10:00:04 127.0.0.1:5002 accepted tcp:b:80 [direct] email: bob",
  ].join("\n");
  assert.deepEqual(
    sourcesOf(log, "bob").map((r) => r.port),
    [5003, 5002],
    "5001 was reused by alice",
  );
});

const RUNS = 100_000;

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));
const port = fc.integer({ min: 1, max: 65535 });
const word = fc.stringMatching(/^[a-z0-9._-]{1,20}$/);
const time = fc
  .tuple(
    fc.integer({ min: 2000, max: 2099 }),
    fc.integer({ min: 1, max: 12 }),
    fc.integer({ min: 1, max: 28 }),
    fc.integer({ min: 0, max: 23 }),
    fc.integer({ min: 0, max: 59 }),
    fc.integer({ min: 0, max: 59 }),
    fc.option(fc.integer({ min: 0, max: 999999 })),
  )
  .map(([y, mo, d, h, mi, s, frac]) => {
    const p = (n: number) => String(n).padStart(2, "0");
    return `${y}/${p(mo)}/${p(d)} ${p(h)}:${p(mi)}:${p(s)}${frac === null ? "" : `.${frac}`}`;
  });

test(`fuzz: generated well-formed lines read back exactly (${RUNS} cases)`, () => {
  fc.assert(
    fc.property(
      time,
      fc.boolean(),
      ipv4,
      port,
      word,
      fc.option(word),
      word,
      (t, from, ip, p, dest, inbound, email) => {
        const route = inbound === null ? "direct" : `${inbound} -> direct`;
        const line = `${t} ${from ? "from " : ""}${ip}:${p} accepted tcp:${dest}:443 [${route}] email: ${email}`;
        const record = parseAccessLine(line);
        assert.deepEqual(record, { ip, port: p, inboundTag: inbound, email }, line);
      },
    ),
    { numRuns: RUNS },
  );
});

test(`fuzz: arbitrary and mutated text never throws and never yields a bad record (${RUNS} cases)`, () => {
  const mutated = fc
    .tuple(fc.constantFrom(V2RAY, XRAY), fc.nat(200), fc.string({ maxLength: 8 }), fc.nat(8))
    .map(([base, at, insert, cut]) => {
      const i = at % (base.length + 1);
      return base.slice(0, i) + insert + base.slice(i + cut);
    });
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.string({ unit: "grapheme", maxLength: 200 }),
        mutated,
      ),
      (line) => {
        const record = parseAccessLine(line);
        if (record === null) return;
        assert.ok(
          Number.isInteger(record.port) && record.port >= 1 && record.port <= 65535,
          "port",
        );
        assert.ok(/^[0-9a-f.:]+$/.test(record.ip), `ip ${record.ip}`);
        assert.ok(
          record.email === null || record.email === record.email.toLowerCase(),
          "email case",
        );
        assert.ok(!/\s/.test(record.email ?? ""), "email has no spaces");
      },
    ),
    { numRuns: RUNS },
  );
});
