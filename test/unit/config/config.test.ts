import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../../src/config/config.js";
import { OperatorError } from "../../../src/core/errors.js";

const noFile = { KUOTA_ENV_FILE: "" };

test("defaults match the documented paths", () => {
  const c = loadConfig({
    ...noFile,
    KUOTA_ENV_FILE: undefined,
    HOME: "/root",
  } as NodeJS.ProcessEnv);
  assert.equal(c.dbPath, "/var/lib/kuota/kuota.db");
  assert.equal(c.dataDir, "/etc/myvpn");
  assert.equal(c.socketPath, "/run/kuota/kuota.sock");
  assert.equal(c.xrayApi, "127.0.0.1:10085");
  assert.equal(c.xrayConfig, "/etc/xray/config.json");
  assert.equal(c.pollMs, 1000);
  assert.deepEqual(c.sshPorts, [22, 109, 143]);
});

test("every mistake is reported at once, with the fix, as an operator error", () => {
  try {
    loadConfig({ KUOTA_POLL_MS: "fast", XRAY_API: "nowhere", SSH_PORTS: "22,99999" });
    assert.fail("expected an error");
  } catch (err) {
    assert.ok(err instanceof OperatorError);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /KUOTA_POLL_MS/);
    assert.match(err.message, /XRAY_API/);
    assert.match(err.message, /SSH_PORTS/);
    assert.match(err.message, /99999/);
  }
});

test("the env file is read; the environment wins over it", () => {
  const dir = mkdtempSync(join(tmpdir(), "kuota-env-"));
  const file = join(dir, "kuota.env");
  writeFileSync(
    file,
    '# comment\nKUOTA_POLL_MS=250\nXRAY_CONFIG="/etc/v2ray/config.json"\nKUOTA_DB=/x.db\n',
  );
  const c = loadConfig({ KUOTA_ENV_FILE: file, KUOTA_DB: "/y.db" });
  assert.equal(c.pollMs, 250);
  assert.equal(c.xrayConfig, "/etc/v2ray/config.json");
  assert.equal(c.dbPath, "/y.db");
});

test("a named env file that is missing is an operator error", () => {
  assert.throws(() => loadConfig({ KUOTA_ENV_FILE: "/nonexistent/kuota.env" }), OperatorError);
});

test("KUOTA_ON_LIMIT takes delete (the default) or lock, and refuses anything else", () => {
  assert.equal(loadConfig({ KUOTA_ENV_FILE: "/dev/null" }).onLimit, "delete");
  assert.equal(loadConfig({ KUOTA_ENV_FILE: "/dev/null", KUOTA_ON_LIMIT: "lock" }).onLimit, "lock");
  assert.throws(
    () => loadConfig({ KUOTA_ENV_FILE: "/dev/null", KUOTA_ON_LIMIT: "disable" }),
    (err: unknown) => err instanceof OperatorError && /KUOTA_ON_LIMIT/.test(err.message),
  );
});
