import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  addSessionScript,
  counterNames,
  deleteSessionScript,
  ensureTableScript,
  parseCounterName,
} from "../../../src/collect/ssh/nft-ruleset.js";
import { parseCounterListing, parseQuotaListing } from "../../../src/collect/ssh/nft.js";

describe("nft scripts for SSH accounting", () => {
  it("keeps within nft 0.9.3's grammar: no typeof, no in/out chains, values only in the block", () => {
    const script = ensureTableScript(
      [22, 109],
      new Map([["bob", { up: { packets: 1, bytes: 2 }, dn: { packets: 3, bytes: 4 } }]]),
    );
    assert.doesNotMatch(script, /typeof/);
    assert.doesNotMatch(script, /chain (in|out) /);
    assert.doesNotMatch(script, /flush table|delete table|flush ruleset/);
    const valueLines = script.split("\n").filter((l) => /packets \d+ bytes \d+/.test(l));
    assert.deepEqual(valueLines, [
      "  counter u_bob_up { packets 1 bytes 2 }",
      "  counter u_bob_dn { packets 3 bytes 4 }",
    ]);
    assert.ok(script.indexOf("}\nflush set") > script.lastIndexOf("counter u_bob_dn"));
    assert.match(script, /add element inet kuota ssh_ports \{ 22, 109 \}/);
  });

  it("maps IPv4 and IPv6 sessions to the right maps", () => {
    assert.match(
      addSessionScript({ ip: "10.0.0.1", port: 5 }, "bob"),
      /ssh_up4 \{ 10\.0\.0\.1 \. 5 : "u_bob_up" \}/,
    );
    assert.match(
      addSessionScript({ ip: "::1", port: 5 }, "bob"),
      /ssh_dn6 \{ ::1 \. 5 : "u_bob_dn" \}/,
    );
    assert.match(deleteSessionScript({ ip: "::1", port: 5 }), /delete element inet kuota ssh_up6/);
  });

  it("refuses what could inject nft syntax", () => {
    assert.throws(() => counterNames("bob; flush ruleset"), TypeError);
    assert.throws(
      () => addSessionScript({ ip: "1.2.3.4 } ; flush ruleset", port: 5 }, "bob"),
      TypeError,
    );
    assert.throws(() => addSessionScript({ ip: "1.2.3.4", port: 0 }, "bob"), TypeError);
    assert.throws(() => ensureTableScript([]), TypeError);
  });

  it("round-trips counter names, dots and dashes included", () => {
    for (const user of ["bob", "a.b-c_d", "0x"]) {
      const names = counterNames(user);
      assert.deepEqual(parseCounterName(names.up), { user, direction: "up" });
      assert.deepEqual(parseCounterName(names.dn), { user, direction: "dn" });
    }
    assert.equal(parseCounterName("capture_hits"), null);
  });

  it("reads nft -j list counters", () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: "1.0.6" } },
        {
          counter: {
            family: "inet",
            name: "u_bob_up",
            table: "kuota",
            handle: 2,
            packets: 5,
            bytes: 100,
          },
        },
      ],
    });
    assert.deepEqual([...parseCounterListing(json)], [["u_bob_up", { packets: 5, bytes: 100 }]]);
  });
});

it("a whole-table listing gives its counter and quota objects, not the rules' anonymous ones", () => {
  // `nft -j list table inet kuota` (nftables 1.0.6): named objects, a map, rules with
  // anonymous counter and quota expressions that must not be taken for objects.
  const json = JSON.stringify({
    nftables: [
      { metainfo: { version: "1.0.6", json_schema_version: 1 } },
      { table: { family: "inet", name: "kuota", handle: 1 } },
      { counter: { family: "inet", name: "u_bob_up", table: "kuota", packets: 5, bytes: 100 } },
      { quota: { family: "inet", name: "q_bob", table: "kuota", bytes: 2000, used: 700 } },
      {
        map: {
          family: "inet",
          name: "ssh_q4",
          table: "kuota",
          map: "quota",
          elem: [[{ concat: ["10.0.0.2", 40000] }, "q_bob"]],
        },
      },
      { rule: { chain: "o", expr: [{ counter: { packets: 9, bytes: 9 } }] } },
      { rule: { chain: "o", expr: [{ quota: { map: { data: "@ssh_q4" } } }, { drop: null }] } },
    ],
  });
  assert.deepEqual([...parseCounterListing(json)], [["u_bob_up", { packets: 5, bytes: 100 }]]);
  assert.deepEqual([...parseQuotaListing(json)], [["q_bob", { bytes: 2000, used: 700 }]]);
});
