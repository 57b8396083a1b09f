import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import protobuf from "protobufjs";
import { buildRoot } from "../../../src/engine/proto.js";
import { decodeStatList, StatListDecodeError } from "../../../src/engine/stat-list.js";

const root = buildRoot("v2ray");
const Response = root.lookupType("v2ray.core.app.stats.command.QueryStatsResponse");

/** What protobufjs, the reference decoder, makes of the same bytes. */
function reference(bytes: Uint8Array): { name: string; value: number }[] {
  const decoded = Response.toObject(Response.decode(bytes), { longs: Number, defaults: true });
  return (decoded["stat"] as { name: string; value: number }[]).map((s) => ({
    name: s.name,
    value: Number(s.value),
  }));
}

/**
 * Whether every known field (response 1, stat 1 and 2) has its own wire type, walked with
 * protobufjs's Reader. protobufjs's decoders read a known field by its number alone, so for
 * `08 00` (field 1 as a varint) they make an empty Stat; protobuf's C++ and Go runtimes, and
 * this decoder, take a field whose wire type does not match as an unknown field and skip it.
 * The two are compared only where that question does not arise.
 */
function knownFieldsWellTyped(bytes: Uint8Array): boolean {
  const walk = (r: protobuf.Reader, end: number, expected: Map<number, number>, inner: boolean) => {
    while (r.pos < end) {
      const tag = r.uint32();
      const want = expected.get(tag >>> 3);
      if (want !== undefined && want !== (tag & 7)) return false;
      if (!inner && tag >>> 3 === 1) {
        const length = r.uint32();
        if (
          !walk(
            r,
            r.pos + length,
            new Map([
              [1, 2],
              [2, 0],
            ]),
            true,
          )
        )
          return false;
      } else r.skipType(tag & 7);
    }
    return true;
  };
  try {
    return walk(protobuf.Reader.create(bytes), bytes.length, new Map([[1, 2]]), false);
  } catch {
    return false;
  }
}

/**
 * Random bytes, and short runs of the bytes a QueryStatsResponse is made of (its tags, wire types
 * and small lengths), which reach nested and mistyped fields far more often than random bytes.
 */
const bytesLikeAResponse = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.array(
    fc.constantFrom(0x08, 0x0a, 0x10, 0x12, 0x15, 0x19, 0x88, 0x80, 0x7a, 0x00, 0x01, 0x02, 0x03),
    { maxLength: 14 },
  ),
);

const stat = fc.record({
  name: fc.oneof(
    fc.string(),
    fc.emailAddress().map((e) => `user>>>${e}>>>traffic>>>downlink`),
  ),
  value: fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constant(0)),
});

describe("decodeStatList", () => {
  it("decodes what protobufjs encodes, exactly as protobufjs decodes it", () => {
    fc.assert(
      fc.property(fc.array(stat, { maxLength: 50 }), (stats) => {
        const bytes = Buffer.from(Response.encode(Response.fromObject({ stat: stats })).finish());
        assert.deepEqual(decodeStatList(bytes), reference(bytes));
        assert.deepEqual(
          decodeStatList(bytes),
          stats.map((s) => ({ name: s.name, value: s.value })),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it("reads a byte count near 2^53 to the byte", () => {
    const bytes = Buffer.from(
      Response.encode(
        Response.fromObject({
          stat: [{ name: "user>>>a>>>traffic>>>uplink", value: 2 ** 53 - 1 }],
        }),
      ).finish(),
    );
    assert.deepEqual(decodeStatList(bytes), [
      { name: "user>>>a>>>traffic>>>uplink", value: 2 ** 53 - 1 },
    ]);
  });

  it("skips fields a newer engine may add, in the response and in each stat", () => {
    // stat { name "x", value 5, field 3 fixed64, field 4 "zz" }, then response field 7 varint 300
    const inner = [0x0a, 1, 0x78, 0x10, 5, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x22, 2, 0x7a, 0x7a];
    const bytes = Buffer.from([0x0a, inner.length, ...inner, 0x38, 0xac, 0x02]);
    assert.deepEqual(decodeStatList(bytes), [{ name: "x", value: 5 }]);
    assert.deepEqual(decodeStatList(Buffer.alloc(0)), []);
  });

  it("refuses truncated and malformed bytes with its own error, whatever they are", () => {
    fc.assert(
      fc.property(bytesLikeAResponse, (raw) => {
        const bytes = Buffer.from(raw);
        let ours: unknown;
        try {
          ours = decodeStatList(bytes);
        } catch (err) {
          assert.ok(err instanceof StatListDecodeError, String(err));
          return;
        }
        // What both accept, both read the same, where a known field has its own wire type (see
        // knownFieldsWellTyped). protobufjs also refuses some messages this decoder skips through.
        if (!knownFieldsWellTyped(bytes)) return;
        let theirs: unknown;
        try {
          theirs = reference(bytes);
        } catch {
          return;
        }
        assert.deepEqual(ours, theirs);
      }),
      { numRuns: 20_000 },
    );
    // The counterexample CI found: field 1 as a varint (tag 0x88 0x00, then 0): an unknown field
    // here, an empty Stat to protobufjs.
    assert.deepEqual(decodeStatList(Buffer.from([0x88, 0x00, 0x00])), []);
    assert.equal(knownFieldsWellTyped(Buffer.from([0x88, 0x00, 0x00])), false);
    const good = Buffer.from(
      Response.encode(Response.fromObject({ stat: [{ name: "abc", value: 300 }] })).finish(),
    );
    for (let cut = 1; cut < good.length; cut++) {
      assert.throws(() => decodeStatList(good.subarray(0, cut)), StatListDecodeError);
    }
  });
});
