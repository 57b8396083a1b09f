import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBotConfig } from "../../../src/bot/bot-config.js";
import { OperatorError } from "../../../src/core/errors.js";

function envFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "kuota-bot-cfg-")), "kuota.env");
  writeFileSync(file, text);
  return file;
}

test("reads the bot's variables from the env file, the socket from the shared config", () => {
  const c = loadBotConfig({
    KUOTA_ENV_FILE: envFile("BOT_TOKEN=123:abc\nADMIN_IDS=11, 22\nKUOTA_SOCKET=/tmp/k.sock\n"),
    BOT_LOCALE: "id",
  });
  assert.equal(c.token, "123:abc");
  assert.deepEqual([...c.adminIds], [11, 22]);
  assert.equal(c.defaultLocale, "id");
  assert.equal(c.apiRoot, "https://api.telegram.org");
  assert.equal(c.socketPath, "/tmp/k.sock");
});

test("every mistake of bot and worker settings is reported at once, never the token", () => {
  try {
    loadBotConfig({
      KUOTA_ENV_FILE: envFile(""),
      BOT_TOKEN: "not a token but secret-ish",
      ADMIN_IDS: "12,bob",
      BOT_LOCALE: "fr",
      TELEGRAM_API_ROOT: "ftp://x",
      KUOTA_POLL_MS: "fast",
    });
    assert.fail("expected an error");
  } catch (err) {
    assert.ok(err instanceof OperatorError);
    assert.equal(err.exitCode, 2);
    for (const key of [
      "BOT_TOKEN",
      "ADMIN_IDS",
      "BOT_LOCALE",
      "TELEGRAM_API_ROOT",
      "KUOTA_POLL_MS",
    ]) {
      assert.match(err.message, new RegExp(key));
    }
    assert.match(err.message, /"bob" is not a Telegram user id/);
    assert.doesNotMatch(err.message, /secret-ish/);
    assert.equal(err.stack?.includes("secret-ish"), false);
  }
});

test("a missing token and admin list say they are required", () => {
  assert.throws(
    () => loadBotConfig({ KUOTA_ENV_FILE: envFile("") }),
    /BOT_TOKEN: is required.*ADMIN_IDS=?.*: is required/,
  );
});
