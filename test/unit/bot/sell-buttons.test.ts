import { test } from "node:test";
import assert from "node:assert/strict";
import type { DeletionEvent } from "../../../src/control/api.js";
import { createI18n, translatorFor } from "../../../src/bot/locales.js";
import { parseCallbackData } from "../../../src/bot/callback-data.js";
import { MAX_NAME_LENGTH } from "../../../src/accounts/names.js";
import { lockedKeyboard, MAX_PUSH_BUTTONS } from "../../../src/bot/sell-buttons.js";

const t = translatorFor(
  createI18n("en", () => undefined),
  "en",
);

let nextId = 1;
function event(account: string, kind: DeletionEvent["kind"], reason: string): DeletionEvent {
  return {
    id: nextId++,
    kind,
    account,
    protocol: "ssh",
    reason,
    usedBytes: 10,
    limitBytes: 10,
    at: "2026-12-04T10:00:00.000Z",
    ackedAt: null,
  };
}

/** The rows of a keyboard as [label, what pressing it asks for]. */
function rows(events: DeletionEvent[]) {
  const keyboard = lockedKeyboard(t, events);
  return keyboard?.inline_keyboard.map((row) => {
    assert.equal(row.length, 1, "one button a row");
    const button = row[0] as { text: string; callback_data?: string };
    return [button.text, parseCallbackData(button.callback_data ?? "")];
  });
}

test("an account locked over its quota gets a top-up button, one locked on expiry a renewal", () => {
  assert.deepEqual(
    rows([event("alice", "locked", "Bandwidth limit exceeded"), event("bob", "locked", "Expired")]),
    [
      ["Top up alice", { kind: "topup", step: "ask", name: "alice" }],
      ["Renew bob +30 days", { kind: "renew", days: 30, name: "bob" }],
    ],
  );
});

test("deleted accounts and reasons with nothing to sell get no button", () => {
  assert.equal(rows([event("gone", "deleted", "Bandwidth limit exceeded")]), undefined);
  assert.equal(rows([event("odd", "locked", "seller's choice")]), undefined);
  assert.equal(
    rows([event("late", "locked", "Expired"), event("late", "deleted", "by hand")]),
    undefined,
    "locked, then deleted after all",
  );
  assert.deepEqual(
    rows([event("gone", "deleted", "Expired"), event("carol", "locked", "Expired")])?.map(
      (r) => r[0],
    ),
    ["Renew carol +30 days"],
  );
});

test("an account reported twice gets one button, for why it is locked now", () => {
  assert.deepEqual(
    rows([
      event("dave", "locked", "Expired"),
      event("erin", "locked", "Expired"),
      event("dave", "locked", "Bandwidth limit exceeded"),
    ])?.map((r) => r[0]),
    ["Top up dave", "Renew erin +30 days"],
  );
});

test(`at most ${MAX_PUSH_BUTTONS} buttons under one message, the first accounts first`, () => {
  const many = Array.from({ length: MAX_PUSH_BUTTONS + 5 }, (_, i) =>
    event(`user${i}`, "locked", "Bandwidth limit exceeded"),
  );
  const labels = rows(many)?.map((r) => r[0]);
  assert.equal(labels?.length, MAX_PUSH_BUTTONS);
  assert.equal(labels?.[0], "Top up user0");
  assert.equal(labels?.at(-1), `Top up user${MAX_PUSH_BUTTONS - 1}`);
});

test("the longest valid account name still fits Telegram's 64 bytes of callback data", () => {
  const name = "a".repeat(MAX_NAME_LENGTH);
  const keyboard = lockedKeyboard(t, [
    event(name, "locked", "Expired"),
    event(`b${name.slice(1)}`, "locked", "Bandwidth limit exceeded"),
  ]);
  const buttons = keyboard?.inline_keyboard.flat() ?? [];
  assert.equal(buttons.length, 2);
  for (const row of [buttons]) {
    for (const b of row as { callback_data?: string }[]) {
      assert.ok(Buffer.byteLength(b.callback_data ?? "") <= 64);
      assert.notEqual(parseCallbackData(b.callback_data ?? ""), null);
    }
  }
});
