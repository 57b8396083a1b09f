import { test } from "node:test";
import assert from "node:assert/strict";
import { accountNameProblem } from "../../../src/accounts/names.js";
import { formatBytes, parseSize } from "../../../src/accounts/sizes.js";
import { UsageError } from "../../../src/core/errors.js";

test("accepts names of 1 to 32 safe characters that start with a letter or digit", () => {
  for (const name of ["a", "0", "budi.santoso", "user_01", "vpn-7", "a".repeat(32)]) {
    assert.equal(accountNameProblem(name), null, name);
  }
});

test("refuses other names with a one-line reason", () => {
  const cases: [string, RegExp][] = [
    ["", /empty/],
    ["a".repeat(200), /200 characters; at most 32/],
    ["Budi", /use lowercase letters \(B → b\)/],
    ["a;rm", /";" is not allowed/],
    ["../x", /"\/" is not allowed|starts with/],
    [".hidden", /starts with "\."/],
    ["-x", /starts with "-"/],
    ["a b", /" " is not allowed/],
    ["a\u0000", /"\\u0000" is not allowed/],
    ["ñ", /"ñ" is not allowed/],
  ];
  for (const [name, reason] of cases) {
    const problem = accountNameProblem(name);
    assert.match(problem ?? "", reason, JSON.stringify(name));
    assert.ok(!problem?.includes("\n"));
  }
});

test("parses sizes in binary units", () => {
  const GiB = 1024 ** 3;
  const cases: [string, number | null][] = [
    ["500MB", 500 * 1024 ** 2],
    ["5GB", 5 * GiB],
    ["1.5GB", 1.5 * GiB],
    ["10G", 10 * GiB],
    ["5 gb", 5 * GiB],
    ["2GiB", 2 * GiB],
    ["1TB", 1024 * GiB],
    ["1024", 1024],
    ["100KB", 102_400],
    ["0", null],
    ["0GB", null],
    ["unlimited", null],
    [" Unlimited ", null],
  ];
  for (const [text, bytes] of cases) assert.equal(parseSize(text), bytes, text);
});

test("refuses negatives and garbage with a reason", () => {
  const cases: [string, RegExp][] = [
    ["-5GB", /negative/],
    ["", /empty/],
    ["five", /not a size/],
    ["1,5GB", /decimal comma/],
    ["5XB", /unknown unit "xb"/],
    ["1e9", /unknown unit "e9"/],
    ["1.2.3GB", /not a size/],
    ["99999999TB", /too large/],
  ];
  for (const [text, reason] of cases) {
    assert.throws(
      () => parseSize(text),
      (err) => err instanceof UsageError && reason.test(err.message),
      text,
    );
  }
});

test("formats bytes for people", () => {
  assert.equal(formatBytes(null), "unlimited");
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1024), "1.00 KiB");
  assert.equal(formatBytes(1.5 * 1024 ** 3), "1.50 GiB");
  assert.equal(formatBytes(1024 ** 3 - 1), "1.00 GiB");
  assert.equal(formatBytes(10 * 1024 ** 2 + 5), "10.00 MiB");
  assert.equal(formatBytes(parseSize("500MB")), "500.00 MiB");
});
