import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ACCOUNT_NAME, parseLoginLine } from "../../../src/collect/ssh/login-line.js";

const RUNS = 100_000;

/** Names an attacker may try: shell syntax, quotes, spaces, control bytes, unicode, 1 KB. */
const hostileName = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(
    "$(reboot)",
    "`id`",
    "a b",
    "o'brien",
    '"x"',
    "x) from <1.2.3.4:5>",
    "a".repeat(1024),
  ),
  fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,31}$/),
);
const ip = fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 20 }));
const port = fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.constant(22));
const prefix = fc.constantFrom(
  "",
  "Jan  2 03:04:05 vps sshd[1234]: ",
  "2024-05-06T07:08:09+0000 vps sshd[88]: ",
  "Jan 12 03:04:05 vps dropbear[99]: ",
  "[15095] Dec 03 18:12:25 ",
);
const template = fc.constantFrom(
  (u: string, a: string, p: number) => `Accepted password for ${u} from ${a} port ${p} ssh2`,
  (u: string, a: string, p: number) => `Disconnected from user ${u} ${a} port ${p}`,
  (u: string, a: string, p: number) => `Password auth succeeded for '${u}' from ${a}:${p}`,
  (u: string, a: string, p: number) => `Exit (${u}) from <${a}:${p}>: Exited normally`,
);

describe("parseLoginLine under fuzzing", () => {
  it(`never throws and only returns valid accounts, addresses and ports (${RUNS} lines)`, () => {
    fc.assert(
      fc.property(
        prefix,
        template,
        hostileName,
        ip,
        port,
        fc.nat(200),
        (pre, make, u, a, p, cut) => {
          const full = pre + make(u, a, p);
          // whole lines and lines truncated anywhere
          for (const line of [full, full.slice(0, Math.max(0, full.length - cut))]) {
            const parsed = parseLoginLine(line);
            if (parsed === null) continue;
            assert.match(parsed.user, ACCOUNT_NAME);
            assert.ok(parsed.port >= 1 && parsed.port <= 65535);
            assert.ok(line.includes(parsed.user));
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("returns exactly the name, address and port that were logged, when all are valid", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,31}$/),
        fc.ipV4(),
        fc.integer({ min: 1, max: 65535 }),
        (u, a, p) => {
          const parsed = parseLoginLine(`Accepted password for ${u} from ${a} port ${p} ssh2`);
          assert.deepEqual(parsed, { daemon: "openssh", event: "login", user: u, ip: a, port: p });
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it("survives arbitrary text, JSON included", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.json()), (text) => {
        const parsed = parseLoginLine(text);
        if (parsed) assert.match(parsed.user, ACCOUNT_NAME);
      }),
      { numRuns: 20_000 },
    );
  });
});
