import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { ControlClient, WorkerRequestError } from "../../src/control/client.js";
import type { AccountView } from "../../src/control/api.js";
import { FakeBotApi, type TgUser } from "../rig/bot-api.js";
import { BotProcess } from "../rig/bot-process.js";
import { WorkerSandbox } from "../rig/worker.js";

const TOKEN = "123:TEST";
const ADMIN_A: TgUser = { id: 1001, first_name: "Ani", language_code: "id" };
const ADMIN_B: TgUser = { id: 1002, first_name: "Ben", language_code: "en" };
const STRANGER: TgUser = { id: 666, first_name: "Mallory", language_code: "en" };

const sandbox = new WorkerSandbox();
const api = new FakeBotApi(TOKEN);
const client = new ControlClient(sandbox.env.KUOTA_SOCKET as string);

const bot = new BotProcess(() => ({
  ...sandbox.env,
  BOT_TOKEN: TOKEN,
  ADMIN_IDS: `${ADMIN_A.id},${ADMIN_B.id}`,
  TELEGRAM_API_ROOT: api.apiRoot,
  BOT_STATE_DIR: join(sandbox.dir, "bot-state"),
}));

function db() {
  return new Database(sandbox.env.KUOTA_DB as string);
}

/** Records events as enforcement would; returns their ids. */
function recordEvents(
  names: string[],
  kind: "deleted" | "locked" = "deleted",
  reason = "quota",
): number[] {
  const d = db();
  try {
    const insert = d.prepare(
      `INSERT INTO events (kind, account, protocol, reason, used_bytes, limit_bytes, at)
       VALUES (?, ?, 'vless', ?, ?, ?, ?)`,
    );
    return names.map((n) =>
      Number(
        insert.run(kind, n, reason, 5 * 1024 ** 3, 5 * 1024 ** 3, new Date().toISOString())
          .lastInsertRowid,
      ),
    );
  } finally {
    d.close();
  }
}

function unacked(ids: number[]): number {
  const d = db();
  try {
    const rows = d
      .prepare(
        `SELECT id FROM events WHERE acked_at IS NULL AND id IN (${ids.map(() => "?").join(",")})`,
      )
      .all(...ids);
    return rows.length;
  } finally {
    d.close();
  }
}

/** Whether the worker serves `path`; routes of other issues may not have landed yet. */
async function routeExists(method: string, path: string): Promise<boolean> {
  try {
    await client.request(method, path);
    return true;
  } catch (err) {
    return !(err instanceof WorkerRequestError && err.code === "not_found");
  }
}

/** Messages pushed to `chat` that mention `name`. */
function pushesFor(chat: number, name: string): string[] {
  return api
    .callsOf("sendMessage")
    .filter((c) => c.payload.chat_id === chat)
    .map((c) => String(c.payload.text))
    .filter((t) => t.includes(`<b>${name}</b>`));
}

before(async () => {
  appendFileSync(
    sandbox.env.KUOTA_PASSWD_FILE as string,
    [
      "alice:x:1001:1001::/home/alice:/bin/false",
      "alan:x:1002:1002::/home/alan:/usr/sbin/nologin",
      "bob:x:1003:1003::/home/bob:/bin/false",
    ].join("\n") + "\n",
  );
  mkdirSync(join(sandbox.dir, "bot-state"), { recursive: true });
  await api.start();
  await sandbox.start();
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { accounts } = await client.get<{ accounts: AccountView[] }>("/v1/usage");
    if (["alice", "alan", "bob"].every((n) => accounts.some((a) => a.username === n))) break;
    if (Date.now() > deadline) throw new Error("accounts were not adopted");
    await sleep(100);
  }
  await bot.start();
});

after(async () => {
  await bot.signal("SIGKILL");
  await api.stop();
});

test("a stranger's /users, /delete, inline query and buttons do nothing and reveal nothing", async () => {
  const before = api.calls.length;
  api.message(STRANGER, "/users");
  api.message(STRANGER, "/delete alice");
  api.inline(STRANGER, "al");
  api.press(STRANGER, "d:y:alice");
  api.press(STRANGER, "u:all:0");
  await api.waitFor(
    (calls) => calls.slice(before).filter((c) => c.method.startsWith("answer")).length >= 3,
  );
  await sleep(500);
  const mine = api.calls.slice(before).filter((c) => c.method !== "getUpdates");
  assert.deepEqual(mine.map((c) => c.method).sort(), [
    "answerCallbackQuery",
    "answerCallbackQuery",
    "answerInlineQuery",
    "sendMessage",
  ]);
  assert.equal(mine.find((c) => c.method === "sendMessage")?.payload.text, "This bot is private.");
  assert.deepEqual(mine.find((c) => c.method === "answerInlineQuery")?.payload.results, []);
  assert.doesNotMatch(JSON.stringify(mine), /alice|alan|bob/);
  assert.equal((await client.get<AccountView>("/v1/usage/alice")).username, "alice");
});

test("inline query 'al' returns the cards of alice and alan, personal and briefly cached", async () => {
  const before = api.calls.length;
  api.inline(ADMIN_B, "al");
  await api.waitFor((calls) => calls.slice(before).some((c) => c.method === "answerInlineQuery"));
  const answer = api.calls.slice(before).find((c) => c.method === "answerInlineQuery");
  const results = answer?.payload.results as {
    title: string;
    input_message_content: { message_text: string };
  }[];
  assert.deepEqual(results.map((r) => r.title).sort(), ["alan", "alice"]);
  assert.match(results[0]?.input_message_content.message_text ?? "", /Σ Total: 0 B/);
  assert.equal(answer?.payload.is_personal, true);
  assert.equal(answer?.payload.cache_time, 5);
});

test("hostile input gets a clear, well-formed answer and the bot keeps running", async () => {
  const before = api.texts(ADMIN_B.id).length;
  const inputs = [
    "x".repeat(10_240),
    "/usage " + "<b>&amp;".repeat(1200),
    "/usage ålice😀",
    "/usage <i>bob</i>",
    "/limit alice 5,5GB",
    "/delete *_[alice](x)`",
    "/usage alice",
  ];
  for (const text of inputs) api.message(ADMIN_B, text);
  api.press(ADMIN_B, "zz:\u0000:<b>");
  await api.waitFor(() => api.texts(ADMIN_B.id).length >= before + inputs.length);
  await api.waitFor((calls) =>
    calls.some(
      (c) => c.method === "answerCallbackQuery" && /no longer valid/.test(String(c.payload.text)),
    ),
  );
  const replies = api.texts(ADMIN_B.id).slice(before);
  assert.match(replies[0] ?? "", /\/help/);
  assert.match(replies[1] ?? "", /“&lt;” is not allowed|characters; at most 32/);
  assert.match(replies[2] ?? "", /“å” is not allowed/);
  assert.match(replies[3] ?? "", /“&lt;” is not allowed/);
  assert.match(replies[4] ?? "", /decimal|not a size/);
  assert.match(replies[5] ?? "", /“\*” is not allowed/);
  assert.match(replies[6] ?? "", /<b>alice<\/b>/);
  for (const r of replies) assert.ok(r.length <= 4096);
  assert.ok(bot.alive);
});

test("events recorded while the bot was stopped are pushed once after it starts", async (t) => {
  if (!(await routeExists("GET", "/v1/events/pending")))
    return t.skip("waits for GET /v1/events/pending");
  // The bot learns an admin's language from their first message and keeps it across restarts.
  api.message(ADMIN_A, "/start");
  await api.waitFor(() => api.texts(ADMIN_A.id).some((x) => x.includes("menghitung pemakaian")));
  await bot.signal("SIGTERM");
  const ids = recordEvents(["gone1"]);
  await bot.start();
  await api.waitFor(
    () =>
      pushesFor(ADMIN_A.id, "gone1").length === 1 && pushesFor(ADMIN_B.id, "gone1").length === 1,
    15_000,
  );
  const deadline = Date.now() + 10_000;
  while (unacked(ids) > 0 && Date.now() < deadline) await sleep(100);
  assert.equal(unacked(ids), 0);
  await sleep(3000);
  assert.equal(pushesFor(ADMIN_A.id, "gone1").length, 1);
  assert.match(pushesFor(ADMIN_A.id, "gone1")[0] ?? "", /dihapus.*kuota habis/);
  assert.match(pushesFor(ADMIN_B.id, "gone1")[0] ?? "", /deleted.*quota used up/);
});

test("50 deletions at once arrive batched, paced within the rate limits", async (t) => {
  if (!(await routeExists("GET", "/v1/events/pending")))
    return t.skip("waits for GET /v1/events/pending");
  const names = Array.from({ length: 50 }, (_, i) => `mass${i}`);
  const before = api.callsOf("sendMessage").length;
  const ids = recordEvents(names);
  const deadline = Date.now() + 20_000;
  while (unacked(ids) > 0 && Date.now() < deadline) await sleep(100);
  assert.equal(unacked(ids), 0);
  const sent = api.callsOf("sendMessage").slice(before);
  for (const admin of [ADMIN_A.id, ADMIN_B.id]) {
    const mine = sent.filter((c) => c.payload.chat_id === admin);
    assert.ok(mine.length <= 3, `${mine.length} messages for 50 events`);
    const text = mine.map((c) => String(c.payload.text)).join("\n");
    for (const n of names) assert.ok(text.includes(`<b>${n}</b>`), n);
    for (let i = 1; i < mine.length; i++) {
      assert.ok(
        (mine[i]?.at ?? 0) - (mine[i - 1]?.at ?? 0) >= 900,
        "one message a second per chat",
      );
    }
  }
});

test("a push reporting locked accounts carries a top-up or renewal button for each", async (t) => {
  if (!(await routeExists("GET", "/v1/events/pending")))
    return t.skip("waits for GET /v1/events/pending");
  await bot.signal("SIGTERM");
  const ids = [
    ...recordEvents(["lockq"], "locked", "Bandwidth limit exceeded"),
    ...recordEvents(["locke"], "locked", "Expired"),
    ...recordEvents(["delq"], "deleted", "Bandwidth limit exceeded"),
  ];
  await bot.start();
  const deadline = Date.now() + 15_000;
  while (unacked(ids) > 0 && Date.now() < deadline) await sleep(100);
  assert.equal(unacked(ids), 0);
  const push = api
    .callsOf("sendMessage")
    .filter((c) => c.payload.chat_id === ADMIN_B.id && String(c.payload.text).includes("lockq"));
  assert.equal(push.length, 1, "the three events in one message");
  assert.match(String(push[0]?.payload.text), /delq/);
  assert.deepEqual(push[0]?.payload.reply_markup, {
    inline_keyboard: [
      [{ text: "Top up lockq", callback_data: "t:a:lockq" }],
      [{ text: "Renew locke +30 days", callback_data: "r:30:locke" }],
    ],
  });
});

test("a 429 with retry_after is waited out and the event still arrives once", async (t) => {
  if (!(await routeExists("GET", "/v1/events/pending")))
    return t.skip("waits for GET /v1/events/pending");
  api.rateLimit("sendMessage", 2, 1);
  const ids = recordEvents(["slow1"]);
  const deadline = Date.now() + 20_000;
  while (unacked(ids) > 0 && Date.now() < deadline) await sleep(100);
  assert.equal(unacked(ids), 0);
  assert.equal(api.callsOf("sendMessage:429").length >= 2, true);
  assert.equal(pushesFor(ADMIN_A.id, "slow1").length, 1);
  assert.equal(pushesFor(ADMIN_B.id, "slow1").length, 1);
});

test("dying between Telegram's acceptance and the ack repeats at most once, loses nothing", async (t) => {
  if (!(await routeExists("GET", "/v1/events/pending")))
    return t.skip("waits for GET /v1/events/pending");
  await bot.signal("SIGTERM");
  const ids = recordEvents(["crash1"]);
  let killed = false;
  api.onAccepted("sendMessage", async (call) => {
    if (killed || !String(call.payload.text).includes("crash1")) return;
    killed = true;
    await bot.signal("SIGKILL");
  });
  await bot.start().catch(() => undefined);
  await api.waitFor(() => killed, 15_000);
  api.onAccepted("sendMessage", null);
  assert.equal(unacked(ids), 1, "not acknowledged before the crash");
  await bot.start();
  const deadline = Date.now() + 15_000;
  while (unacked(ids) > 0 && Date.now() < deadline) await sleep(100);
  assert.equal(unacked(ids), 0);
  await sleep(2500);
  const total = pushesFor(ADMIN_A.id, "crash1").length + pushesFor(ADMIN_B.id, "crash1").length;
  assert.ok(total >= 2 && total <= 3, `${total} messages for 2 admins`);
  assert.ok(pushesFor(ADMIN_A.id, "crash1").length >= 1);
  assert.ok(pushesFor(ADMIN_B.id, "crash1").length >= 1);
});

test("/renew NAME DAYS moves the expiry through the worker; 0 removes it; bad days are refused", async () => {
  const before = api.texts(ADMIN_B.id).length;
  const send = async (text: string) => {
    const n = api.texts(ADMIN_B.id).length;
    api.message(ADMIN_B, text);
    await api.waitFor(() => api.texts(ADMIN_B.id).length > n);
    return api.texts(ADMIN_B.id).at(-1) ?? "";
  };
  const renewed = await send("/renew bob 30");
  const view = await client.get<AccountView>("/v1/usage/bob");
  assert.ok(view.expires_at, "bob has an expiry now");
  const days = (Date.parse(view.expires_at) - Date.now()) / 86_400_000;
  assert.ok(days > 29 && days <= 30, `30 days from today (${days.toFixed(2)})`);
  assert.match(renewed, /<b>bob<\/b> now expires \d{4}-\d\d-\d\d/);
  assert.match(await send("/renew bob 0"), /<b>bob<\/b> now expires never/);
  assert.equal((await client.get<AccountView>("/v1/usage/bob")).expires_at, null);
  assert.match(await send("/renew bob soon"), /whole number of days/);
  assert.match(await send("/renew nobody-here 3"), /nobody-here/);
  assert.match(await send("/renew"), /\/renew alice 30/);
  assert.equal(api.texts(ADMIN_B.id).length, before + 5, "one answer each");
});

test("buttons under /usage renew by 30 days and top up after a confirmation", async () => {
  await client.post("/v1/accounts/bob/limit", { limit: 5 * 1024 ** 3 });
  await client.post("/v1/accounts/bob/expiry", { never: true });
  const d = db();
  d.prepare("UPDATE usage SET down_bytes = ? WHERE name = 'bob'").run(3 * 1024 ** 3);
  d.close();
  const texts = () => api.texts(ADMIN_B.id);
  const answered = async (send: () => void, expect: RegExp): Promise<string> => {
    const n = texts().length;
    send();
    await api.waitFor(() => texts().length > n);
    const text = texts().at(-1) ?? "";
    assert.match(text, expect);
    return text;
  };

  await answered(() => api.message(ADMIN_B, "/usage bob"), /<b>bob<\/b>/);
  const card = api.callsOf("sendMessage").at(-1);
  const buttons = JSON.stringify(card?.payload.reply_markup ?? null);
  assert.match(buttons, /"callback_data":"r:30:bob"/, "a renew button under the card");
  assert.match(buttons, /"callback_data":"t:a:bob"/, "a top-up button: bob has a quota");

  await answered(() => api.press(ADMIN_B, "r:30:bob"), /<b>bob<\/b> now expires \d{4}-\d\d-\d\d/);
  const renewed = await client.get<AccountView>("/v1/usage/bob");
  const days = (Date.parse(renewed.expires_at ?? "") - Date.now()) / 86_400_000;
  assert.ok(days > 29 && days <= 30, `30 days from today (${days.toFixed(2)})`);

  await answered(() => api.press(ADMIN_B, "t:a:bob"), /Top up <b>bob<\/b>: .*3(\.00)? GiB/);
  const ask = JSON.stringify(api.callsOf("sendMessage").at(-1)?.payload.reply_markup ?? null);
  assert.match(ask, /"t:y:bob"/);
  assert.match(ask, /"t:n:bob"/);
  await answered(() => api.press(ADMIN_B, "t:n:bob"), /left as it was/);
  let view = await client.get<AccountView>("/v1/usage/bob");
  assert.equal(view.total_usage.total_bytes, 3 * 1024 ** 3, "Keep changes nothing");

  await answered(
    () => api.press(ADMIN_B, "t:y:bob"),
    /<b>bob<\/b> is topped up: 0 used of 5(\.00)? GiB/,
  );
  view = await client.get<AccountView>("/v1/usage/bob");
  assert.equal(view.total_usage.total_bytes, 0, "usage back to 0");
  assert.equal(view.limit_bytes, 5 * 1024 ** 3, "the quota is kept");

  await client.post("/v1/accounts/bob/limit", { limit: null });
  await answered(() => api.press(ADMIN_B, "t:y:bob"), /has no quota to top up/);
  await answered(() => api.message(ADMIN_B, "/usage bob"), /<b>bob<\/b>/);
  const noQuota = JSON.stringify(api.callsOf("sendMessage").at(-1)?.payload.reply_markup ?? null);
  assert.doesNotMatch(noQuota, /t:a:bob/, "no top-up button without a quota");
  assert.match(noQuota, /r:30:bob/);
});

test("a full /adduser conversation for SSH creates the account and shows its password", async (t) => {
  if (!(await routeExists("GET", "/v1/accounts/probe-x")))
    return t.skip("waits for POST /v1/accounts");
  const before = api.texts(ADMIN_B.id).length;
  const step = async (send: () => void, expect: RegExp) => {
    send();
    await api.waitFor(
      () =>
        api
          .texts(ADMIN_B.id)
          .slice(before)
          .some((x) => expect.test(x)),
      20_000,
    );
  };
  await step(() => api.message(ADMIN_B, "/adduser"), /Which protocol/);
  await step(() => api.press(ADMIN_B, "a:p:ssh"), /Name of the account/);
  await step(() => api.message(ADMIN_B, "botuser1"), /SSH password/);
  await step(() => api.message(ADMIN_B, "s3cret-pass"), /Quota\?/);
  await step(() => api.press(ADMIN_B, "a:s:5GB"), /how many days/);
  await step(() => api.press(ADMIN_B, "a:d:30"), /created|Could not create/);
  const last = api.texts(ADMIN_B.id).slice(before).join("\n");
  assert.match(last, /<b>botuser1<\/b> · ssh created/);
  assert.match(last, /<pre>[^]*Password: s3cret-pass[^]*<\/pre>/);
  const view = await client.get<AccountView>("/v1/usage/botuser1");
  assert.equal(view.limit_bytes, 5 * 1024 ** 3);
  await client.request("DELETE", "/v1/accounts/botuser1", { reason: "test cleanup" });
});

test("the token never reaches the bot's log", () => {
  assert.ok(bot.logs.length > 0);
  for (const line of bot.logs) assert.ok(!line.includes(TOKEN), line);
});
