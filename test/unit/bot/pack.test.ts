import { test } from "node:test";
import assert from "node:assert/strict";
import { MESSAGE_LIMIT, packBlocks } from "../../../src/bot/pack.js";

test("fifty short lines fit in one message", () => {
  const lines = Array.from({ length: 50 }, (_, i) => `🗑 <b>user${i}</b> · vless deleted`);
  const packed = packBlocks(lines);
  assert.equal(packed.length, 1);
  assert.deepEqual(
    packed[0]?.blocks,
    lines.map((_, i) => i),
  );
});

test("many lines split at the limit, in order, none lost", () => {
  const lines = Array.from({ length: 500 }, (_, i) => `line ${i} `.padEnd(90, "x"));
  const packed = packBlocks(lines);
  assert.ok(packed.length > 1);
  for (const m of packed) assert.ok(m.text.length <= MESSAGE_LIMIT);
  assert.deepEqual(
    packed.flatMap((m) => m.blocks),
    lines.map((_, i) => i),
  );
  assert.equal(packed.map((m) => m.text).join("\n"), lines.join("\n"));
});

test("a block larger than a message is cut without an open tag or entity", () => {
  const huge = "<b>" + "&amp;".repeat(2000) + "</b>";
  const [m] = packBlocks([huge], 100);
  assert.ok(m !== undefined && m.text.length <= 100);
  assert.doesNotMatch(m.text, /<|&(?!amp;)/);
});
