import { test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN, botHarness } from "./harness.js";

test("/adduser asks each question again with the reason until the answer is good", async () => {
  const h = await botHarness();
  await h.send(ADMIN, "/adduser");
  await h.send(ADMIN, "telnet");
  await h.press(ADMIN, "a:p:ssh");
  await h.send(ADMIN, "Alice");
  await h.send(ADMIN, "<b>ali&ce</b>");
  await h.send(ADMIN, "x".repeat(10_240));
  await h.send(ADMIN, "/users");
  await h.send(ADMIN, "alice");
  await h.send(ADMIN, "ab");
  await h.press(ADMIN, "a:g");
  await h.send(ADMIN, "lots");
  await h.press(ADMIN, "a:s:5GB");
  await h.send(ADMIN, "99999");
  await h.press(ADMIN, "a:d:30");
  const texts = h.texts();
  const expected = [
    /Which protocol/,
    /Press one of the buttons/,
    /Name of the account/,
    /lowercase letters \(A → a\)/,
    /“&lt;” is not allowed/,
    /10240 characters; at most 32/,
    /Answer the question above/,
    /SSH password/,
    /4 to 64 characters/,
    /Quota\?/,
    /“lots” is not a size/,
    /how many days/,
    /whole number of days from 1 to 3,650/,
    /Creating <b>alice<\/b>/,
    /Could not create <b>alice<\/b>: The kuota worker is not running/,
  ];
  assert.equal(texts.length, expected.length, texts.join("\n---\n"));
  expected.forEach((re, i) => assert.match(texts[i] ?? "", re));
  assert.ok(
    h.calls.some((c) => c.method === "deleteMessage"),
    "typed password is removed",
  );
});

test("/cancel leaves the conversation, and the next message is not taken as an answer", async () => {
  const h = await botHarness();
  await h.send(ADMIN, "/adduser");
  await h.press(ADMIN, "a:p:vless");
  await h.send(ADMIN, "/cancel");
  await h.send(ADMIN, "bob");
  await h.send(ADMIN, "/cancel");
  assert.deepEqual(h.texts().slice(-3), [
    "Cancelled.",
    "Send /help for the commands.",
    "Nothing to cancel.",
  ]);
});

test("an old /adduser button outside the conversation gets a clear answer", async () => {
  const h = await botHarness();
  await h.press(ADMIN, "a:p:vless");
  await h.press(ADMIN, "zz:whatever");
  const answers = h.calls.filter((c) => c.method === "answerCallbackQuery");
  assert.equal(answers.length, 2);
  for (const a of answers) assert.match(String(a.payload.text), /no longer valid/);
});

test("/language switches to Indonesian and stays switched", async () => {
  const h = await botHarness();
  await h.send(ADMIN, "/language");
  await h.press(ADMIN, "l:id");
  await h.send(ADMIN, "/cancel");
  const texts = h.texts();
  assert.match(texts[1] ?? "", /berbahasa Indonesia/);
  assert.equal(texts[2], "Tidak ada yang perlu dibatalkan.");
  assert.equal(h.languages.localeFor(ADMIN.id), "id");
});
