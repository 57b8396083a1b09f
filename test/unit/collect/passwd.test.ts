import { test } from "node:test";
import assert from "node:assert/strict";
import { parsePasswd, isSshAccount } from "../../../src/collect/discovery/passwd.js";

test("only uid 1000-59999 users with a non-login shell are SSH accounts", () => {
  const entries = parsePasswd(
    [
      "root:x:0:0:root:/root:/bin/bash",
      "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
      "seller:x:1000:1000:seller:/home/seller:/bin/bash",
      "john:x:1001:1001::/home/john:/bin/false",
      "ana:x:1002:1002::/home/ana:/usr/sbin/nologin",
      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
      "broken line",
      "",
    ].join("\n"),
  );
  assert.deepEqual(
    entries.filter(isSshAccount).map((e) => e.name),
    ["john", "ana"],
  );
});
