/** Engine counter names to store readings, and the per-account QueryStats pattern. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { accountPattern, toReadings } from "../../../src/collect/xray/xray-collector.js";

test("accounts are lowercased emails; names that are not user traffic are skipped", () => {
  const readings = toReadings([
    { name: "user>>>Alice>>>traffic>>>uplink", value: 5 },
    { name: "user>>>bob>>>traffic>>>downlink", value: 7 },
    { name: "inbound>>>vless-in>>>traffic>>>uplink", value: 9 },
    { name: "user>>>>>>traffic>>>uplink", value: 1 },
  ]);
  assert.deepEqual(
    readings.map((r) => [r.account, r.direction, r.raw]),
    [
      ["alice", "up", 5],
      ["bob", "down", 7],
    ],
  );
});

test("the fast poll asks for an account the way the engine spells its email", () => {
  const emails = new Map<string, string>();
  toReadings(
    [
      { name: "user>>>Alice.Cap>>>traffic>>>uplink", value: 5 },
      { name: "user>>>bob>>>traffic>>>uplink", value: 5 },
    ],
    emails,
  );
  assert.deepEqual([...emails], [["alice.cap", "Alice.Cap"]], "only spellings that differ");
  // The engine's pattern is a case-sensitive substring: "user>>>alice.cap>>>" would match nothing.
  assert.equal(accountPattern("alice.cap", emails), "user>>>Alice.Cap>>>");
  assert.equal(accountPattern("bob", emails), "user>>>bob>>>");
  const stat = "user>>>Alice.Cap>>>traffic>>>downlink";
  assert.ok(stat.includes(accountPattern("alice.cap", emails)));
  assert.ok(!"user>>>alice.capx>>>traffic>>>uplink".includes(accountPattern("alice.cap", emails)));
});
