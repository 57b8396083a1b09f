import { test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN, STRANGER, botHarness } from "./harness.js";

test("a stranger's command gets one short refusal and reaches nothing else", async () => {
  const h = await botHarness();
  await h.send(STRANGER, "/users");
  await h.send(STRANGER, "/delete alice");
  assert.deepEqual(h.texts(), ["This bot is private."]);
  assert.deepEqual(
    h.calls.map((c) => c.method),
    ["sendMessage"],
  );
});

test("a stranger in Indonesian is refused in Indonesian", async () => {
  const h = await botHarness();
  await h.send({ ...STRANGER, language_code: "id" }, "/start");
  assert.deepEqual(h.texts(), ["Bot ini bersifat pribadi."]);
});

test("a stranger in a group gets nothing at all", async () => {
  const h = await botHarness();
  await h.send(STRANGER, "/users", { id: -100, type: "supergroup", title: "g" });
  assert.equal(h.calls.length, 0);
});

test("a stranger's inline query gets an empty answer and button presses do nothing", async () => {
  const h = await botHarness();
  await h.inline(STRANGER, "al");
  await h.press(STRANGER, "d:y:alice");
  await h.press(STRANGER, "u:all:0");
  assert.deepEqual(
    h.calls.map((c) => c.method),
    ["answerInlineQuery", "answerCallbackQuery", "answerCallbackQuery"],
  );
  assert.deepEqual(h.calls[0]?.payload.results, []);
  assert.equal(h.calls[0]?.payload.is_personal, true);
  assert.equal(h.calls[1]?.payload.text, undefined);
});

test("an admin is served; without a worker the reply says how to start it", async () => {
  const h = await botHarness();
  await h.send(ADMIN, "/help");
  await h.send(ADMIN, "/users");
  const [help, users] = h.texts();
  assert.match(help ?? "", /\/adduser/);
  assert.match(users ?? "", /kuota worker is not running/);
});

test("an admin in a group is told to use a private chat, and nothing is shown", async () => {
  const h = await botHarness();
  await h.send(ADMIN, "/users", { id: -100, type: "group", title: "g" });
  assert.deepEqual(h.texts(), ["Use me in a private chat."]);
});

test("the token never appears in a call the bot makes", async () => {
  const h = await botHarness();
  await h.send(ADMIN, "/status");
  await h.send(STRANGER, "/status");
  assert.ok(!JSON.stringify(h.calls).includes("SECRET-TOKEN"));
});
