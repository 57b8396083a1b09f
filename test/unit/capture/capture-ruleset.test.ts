import { test } from "node:test";
import assert from "node:assert/strict";
import { captureTableScript, removeCaptureScript } from "../../../src/capture/capture-ruleset.js";

test("declares the counter and chain and replaces only the capture rule", () => {
  const script = captureTableScript([80, 443, 443], 41);
  assert.match(
    script,
    /^table inet kuota \{\n {2}counter capture_seen \{ \}\n/,
    "counter kept if present",
  );
  assert.match(script, /chain capture_in \{ type filter hook input priority -5; policy accept; \}/);
  assert.match(script, /\nflush chain inet kuota capture_in\n/, "flushes its own chain only");
  assert.doesNotMatch(
    script,
    /flush (table|ruleset)|delete table|typeof/,
    "never touches the table",
  );
  assert.match(
    script,
    /add rule inet kuota capture_in tcp dport \{ 80, 443 \} ct original packets 1-8 counter name capture_seen log group 41 snaplen 4096\n$/,
  );
  assert.equal(
    removeCaptureScript(),
    "delete chain inet kuota capture_in\ndelete counter inet kuota capture_seen\n",
  );
});

test("refuses ports and groups nft would misread", () => {
  assert.throws(() => captureTableScript([], 41), TypeError);
  assert.throws(() => captureTableScript([0], 41), TypeError);
  assert.throws(() => captureTableScript([80], 70_000), TypeError);
});
