import { test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigRejectedError,
  engineValidator,
  writeConfigAtomically,
} from "../../../src/accounts/config-write.js";

function setUp(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), "kuota-write-"));
  const path = join(dir, "config.json");
  writeFileSync(path, "old\n");
  chmodSync(path, 0o640);
  return { dir, path };
}

test("replaces the file, keeps its mode and the previous text as .kuota.bak", async () => {
  const { dir, path } = setUp();
  const seen: string[] = [];
  await writeConfigAtomically(path, "new\n", async (tmp) => {
    seen.push(readFileSync(tmp, "utf8"));
    assert.ok(tmp.startsWith(dir) && tmp.endsWith(".json"));
  });
  assert.deepEqual(seen, ["new\n"]);
  assert.equal(readFileSync(path, "utf8"), "new\n");
  assert.equal(readFileSync(`${path}.kuota.bak`, "utf8"), "old\n");
  assert.equal(statSync(path).mode & 0o777, 0o640);
  assert.deepEqual(readdirSync(dir).sort(), ["config.json", "config.json.kuota.bak"]);
});

test("a refused config leaves the file, the backup and the directory as they were", async () => {
  const { dir, path } = setUp();
  await assert.rejects(
    writeConfigAtomically(path, "bad\n", async (tmp) => {
      throw new ConfigRejectedError(tmp, "nope");
    }),
    ConfigRejectedError,
  );
  assert.equal(readFileSync(path, "utf8"), "old\n");
  assert.deepEqual(readdirSync(dir), ["config.json"]);
});

const V2RAY = "/usr/bin/v2ray";

test(
  "the V2Ray validator accepts a loadable config and refuses a broken one with the reason",
  { skip: !existsSync(V2RAY) && "no /usr/bin/v2ray" },
  async () => {
    const { dir, path } = setUp();
    const validate = engineValidator(V2RAY);
    const good = JSON.stringify({
      inbounds: [
        {
          port: 10999,
          listen: "127.0.0.1",
          protocol: "vless",
          settings: {
            decryption: "none",
            clients: [{ id: "b831381d-6324-4d53-ad4f-8cda48b30811", email: "a" }],
          },
        },
      ],
      outbounds: [{ protocol: "freedom" }],
    });
    await writeConfigAtomically(path, good, validate);
    assert.equal(readFileSync(path, "utf8"), good);

    const broken = good.replace('"vless"', '"bogus"');
    await assert.rejects(writeConfigAtomically(path, broken, validate), (err) => {
      assert.ok(err instanceof ConfigRejectedError);
      assert.match(err.reason, /unknown config id: bogus/);
      return true;
    });
    const trailing = good.replace("}]}}]", "},]}}]");
    await assert.rejects(
      writeConfigAtomically(path, trailing, validate),
      /looking for beginning of value/,
    );
    assert.equal(readFileSync(path, "utf8"), good);
    assert.deepEqual(readdirSync(dir).sort(), ["config.json", "config.json.kuota.bak"]);
  },
);
