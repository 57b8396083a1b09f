import { test } from "node:test";
import assert from "node:assert/strict";
import type { AccountView, DeletionEvent } from "../../../src/control/api.js";
import { accountCard, eventLine, usersPage, byUsage } from "../../../src/bot/format.js";
import { clip, escapeHtml, usageBar } from "../../../src/bot/html.js";
import { createI18n, translatorFor } from "../../../src/bot/locales.js";
import { createdBlocks } from "../../../src/bot/adduser.js";

const i18n = createI18n("en", () => undefined);
const t = translatorFor(i18n, "en");
const tId = translatorFor(i18n, "id");
const GiB = 1024 ** 3;

export function view(name: string, total: number, limit: number | null): AccountView {
  return {
    username: name,
    protocol: "vless",
    limit_bytes: limit,
    total_usage: { upload_bytes: total / 2, download_bytes: total / 2, total_bytes: total },
    daily_usage: { date: "2026-12-03", upload_bytes: 0, download_bytes: 0, total_bytes: 0 },
    created_at: "2026-12-01T00:00:00.000Z",
    updated_at: "2026-12-03T00:00:00.000Z",
    origin: "adopted",
    state: "active",
    present: true,
    expires_at: null,
    last_seen_at: null,
    percent: limit === null ? null : Math.round((total / limit) * 10000) / 100,
  };
}

/** Tags Telegram's HTML mode accepts in kuota's replies. */
const ALLOWED = /^<\/?(b|i|code|pre)>$/;
function assertSafeHtml(html: string) {
  for (const tag of html.match(/<[^>]*>/g) ?? [])
    assert.match(tag, ALLOWED, `tag ${tag} in ${html}`);
  assert.doesNotMatch(html.replace(/&(amp|lt|gt|quot);/g, ""), /&/);
}

test("escapes the three HTML specials and quotes", () => {
  assert.equal(escapeHtml(`<b>&"x"</b>`), "&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;");
});

test("clips by characters, never halving an emoji", () => {
  assert.equal(clip("😀😀😀😀", 3), "😀😀…");
  assert.equal(clip("abc", 3), "abc");
});

test("draws a ten-cell bar, full above 100 % and empty for unlimited", () => {
  assert.equal(usageBar(30), "▓▓▓░░░░░░░");
  assert.equal(usageBar(250), "▓▓▓▓▓▓▓▓▓▓");
  assert.equal(usageBar(null), "");
});

test("an account card escapes a hostile name and keeps its own tags", () => {
  const card = accountCard(t, view(`<a href="x">*_[]&`, 1.5 * GiB, 5 * GiB));
  assert.match(card, /&lt;a href=&quot;x&quot;&gt;\*_\[\]&amp;/);
  assert.match(card, /1\.50 GiB/);
  assert.match(card, /\(30%\)/);
  assertSafeHtml(card);
  assertSafeHtml(accountCard(tId, view("alice", 0, null)));
  assert.match(accountCard(tId, view("alice", 0, null)), /tanpa batas/);
});

test("users are sorted by usage and paged ten at a time", () => {
  const many = Array.from({ length: 23 }, (_, i) => view(`u${i}`, i * GiB, 100 * GiB));
  const sorted = byUsage(many);
  assert.equal(sorted[0]?.username, "u22");
  const last = usersPage(t, sorted, "all", 99);
  assert.equal(last.page, 2);
  assert.equal(last.pages, 3);
  assert.match(last.text, /page 3\/3/);
  assert.match(last.text, /21\. <b>u2<\/b>/);
  assertSafeHtml(last.text);
});

test("a pushed event names the account, usage, quota and reason", () => {
  const e: DeletionEvent = {
    id: 1,
    kind: "deleted",
    account: "bob<x>",
    protocol: "ssh",
    reason: "quota",
    usedBytes: 5 * GiB,
    limitBytes: 5 * GiB,
    at: "2026-12-03T10:00:00.000Z",
    ackedAt: null,
  };
  const line = eventLine(t, e);
  assert.match(line, /bob&lt;x&gt;/);
  assert.match(line, /5\.00 GiB \/ 5\.00 GiB · quota used up/);
  assert.match(eventLine(tId, { ...e, kind: "locked" }), /dikunci.*kuota habis/);
  assertSafeHtml(line);
});

test("connection details put secrets and links in copyable blocks, escaped", () => {
  const blocks = createdBlocks(t, {
    account: view("carol", 0, 5 * GiB),
    connection: {
      host: "vpn.example.com",
      endpoints: [{ tag: "vless-ws", port: 443, network: "ws", path: "/vless", tls: true }],
      secret: "0b6c…<&>",
      method: undefined,
    },
    links: ["vless://uuid@vpn.example.com:443?path=%2Fvless&security=tls#carol"],
  });
  const text = blocks.join("\n");
  assert.match(
    text,
    /<pre>Host: vpn\.example\.com\nUUID: 0b6c…&lt;&amp;&gt;\nvless-ws: port 443, ws \/vless, TLS<\/pre>/,
  );
  assert.match(
    text,
    /<pre>vless:\/\/uuid@vpn\.example\.com:443\?path=%2Fvless&amp;security=tls#carol<\/pre>/,
  );
  assertSafeHtml(text);
});
