/**
 * Issue 7's acceptance where the bot meets real accounts: a VLESS account made by a `/adduser`
 * conversation carries traffic through a v2ray client set up from the bot's link alone; an
 * account the worker deletes for its quota while the bot is stopped is pushed once when it
 * starts; the worker's notes on a creation reach the seller. Telegram is the local fake Bot API;
 * the worker, v2ray 4.34 and the clients are real.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { formatBytes } from "../../src/accounts/sizes.js";
import { ControlClient } from "../../src/control/client.js";
import type { CreatedAccount, DeletionEvent } from "../../src/control/api.js";
import { FakeBotApi, type TgUser } from "../rig/bot-api.js";
import { curlDownload, startCurlDownload } from "../rig/curl.js";
import { startPayloadServer, type PayloadServer } from "../rig/payload-server.js";
import { freePort } from "../rig/ports.js";
import { clientFromLink } from "../rig/share-link-client.js";
import {
  makeAccount,
  startV2ray,
  startV2rayClient,
  startV2rayServer,
  type RigServer,
} from "../rig/v2ray.js";
import { BotProcess } from "../rig/bot-process.js";
import { WorkerSandbox } from "../rig/worker.js";

const MiB = 1024 * 1024;
const TOKEN = "123:TEST";
const ADMIN_A: TgUser = { id: 2001, first_name: "Ani", language_code: "id" };
const ADMIN_B: TgUser = { id: 2002, first_name: "Ben", language_code: "en" };

const api = new FakeBotApi(TOKEN);
let server: RigServer;
let payload: PayloadServer;
let worker: WorkerSandbox;
let socket: ControlClient;

const bot = new BotProcess(() => ({
  ...worker.env,
  BOT_TOKEN: TOKEN,
  ADMIN_IDS: `${ADMIN_A.id},${ADMIN_B.id}`,
  TELEGRAM_API_ROOT: api.apiRoot,
  BOT_STATE_DIR: join(worker.dir, "bot-state"),
}));

before(async () => {
  server = await startV2rayServer({
    accounts: [makeAccount("vless", "keep-vl")],
    format: "commented",
  });
  payload = await startPayloadServer();
  worker = new WorkerSandbox({
    XRAY_API: `127.0.0.1:${server.apiPort}`,
    XRAY_CONFIG: server.v2ray.configPath,
    XRAY_ACCESS_LOG: server.v2ray.accessLog,
    KUOTA_PUBLIC_HOST: "127.0.0.1",
    KUOTA_POLL_MS: "1000",
  });
  socket = new ControlClient(worker.env.KUOTA_SOCKET as string);
  mkdirSync(join(worker.dir, "bot-state"), { recursive: true });
  await api.start();
  await worker.start();
  await worker.waitForLog(/"engine connected"/);
  await bot.start();
});

// The worker, v2ray and payload rigs stop their own processes after the file.
after(async () => {
  await bot.signal("SIGKILL");
  await api.stop();
});

/** Undoes `escapeHtml`, to read a value back out of a message. */
function unescapeHtml(html: string): string {
  return html
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&");
}

/**
 * Runs `/adduser` for an Xray protocol as `admin` by pressing and typing, each answer sent once
 * the bot has asked (in any language); returns the replies from the first question on.
 */
async function addUserByChat(
  admin: TgUser,
  protocol: string,
  name: string,
  limitButton: string,
): Promise<string> {
  const before = api.texts(admin.id).length;
  const step = async (send: () => void, replies: number) => {
    const count = api.texts(admin.id).length;
    send();
    await api.waitFor(() => api.texts(admin.id).length >= count + replies, 20_000);
  };
  await step(() => api.message(admin, "/adduser"), 1);
  await step(() => api.press(admin, `a:p:${protocol}`), 1);
  await step(() => api.message(admin, name), 1);
  await step(() => api.press(admin, `a:s:${limitButton}`), 1);
  // "Creating…", then the result
  await step(() => api.press(admin, "a:d:30"), 2);
  // Links that do not fit the first message follow in the next.
  await sleep(300);
  return api.texts(admin.id).slice(before).join("\n");
}

/** The share links in the bot's copyable blocks, as the seller would copy them. */
function linksIn(replies: string): string[] {
  return [...replies.matchAll(/<pre>((?:vless|vmess|trojan):\/\/[^<]*)<\/pre>/g)].map((m) =>
    unescapeHtml(m[1] as string),
  );
}

async function pendingEvents(): Promise<DeletionEvent[]> {
  return (await socket.get<{ events: DeletionEvent[] }>("/v1/events/pending")).events;
}

/** Messages sent to `chat` naming account `name`. */
function pushesFor(chat: number, name: string): string[] {
  return api
    .callsOf("sendMessage")
    .filter((c) => c.payload.chat_id === chat)
    .map((c) => String(c.payload.text))
    .filter((t) => t.includes(`<b>${name}</b>`));
}

test("a VLESS account made by /adduser carries 2 MiB through a client set up from the bot's link alone", async () => {
  const replies = await addUserByChat(ADMIN_B, "vless", "chat-vl", "5GB");
  assert.match(replies, /<b>chat-vl<\/b> · vless created/, "the summary names the account");
  assert.match(replies, /Quota: 5\.00 GiB/, "the summary shows the quota");
  assert.doesNotMatch(replies, /Note/, "no notes when all went as planned");
  const links = linksIn(replies);
  assert.equal(links.length, 1, `one vless inbound, one link:\n${replies}`);
  const link = links[0] as string;
  assert.match(link, /^vless:\/\/[0-9a-f-]{36}@127\.0\.0\.1:\d+\?/, "a vless link to the host");
  const uuid = decodeURIComponent(new URL(link).username);
  assert.ok(replies.includes(`UUID: ${uuid}`), "the UUID in the details is the link's");

  const socksPort = await freePort();
  await startV2ray(clientFromLink(link, socksPort), { name: "link-chat-vl" });
  const figures = await curlDownload(payload.bytesUrl(2 * MiB), { socksPort });
  assert.equal(figures.sizeDownload, 2 * MiB, "exact bytes through the link's client");
  const view = await socket.get<{ limit_bytes: number | null; expires_at: string | null }>(
    "/v1/usage/chat-vl",
  );
  assert.equal(view.limit_bytes, 5 * 1024 ** 3, "5GB is 5 x 1024^3 bytes");
  assert.ok(view.expires_at !== null, "30 days of validity give an expiry date");
});

test("an account deleted for its quota while the bot is stopped is pushed once when it starts", async (t) => {
  // The bot learns an admin's language from their first message and keeps it across restarts.
  api.message(ADMIN_A, "/start");
  await api.waitFor(() => api.texts(ADMIN_A.id).some((x) => x.includes("menghitung pemakaian")));
  await bot.signal("SIGTERM");
  const add = await worker.cli(["account", "add", "vless", "over-vl", "--limit", "2MiB", "--json"]);
  assert.equal(add.code, 0, `kuota account add: ${add.stderr}`);
  const created = JSON.parse(add.stdout) as CreatedAccount;
  const client = await startV2rayClient(
    server,
    makeAccount("vless", "over-vl", { id: created.connection.secret }),
  );
  // The client keeps its side open after the server's cut, so curl is stopped once the event is in.
  const run = startCurlDownload(payload.bytesUrl(64 * MiB), {
    socksPort: client.socksPort,
    maxTimeSec: 15,
  });
  let event: DeletionEvent | undefined;
  const deadline = Date.now() + 15_000;
  while (!event && Date.now() < deadline) {
    await sleep(100);
    event = (await pendingEvents()).find((e) => e.account === "over-vl");
  }
  run.kill("SIGKILL");
  await run.result;
  assert.ok(event, "the worker recorded the deletion while the bot was stopped");
  assert.equal(event.kind, "deleted", "a deletion, not a lock");
  assert.ok(event.usedBytes >= 2 * MiB, `counted ${event.usedBytes} B at the cut`);
  t.diagnostic(`counted ${event.usedBytes} B against 2 MiB; reason: ${event.reason}`);
  assert.match(
    readFileSync(join(worker.dataDir, "deleted.log"), "utf8"),
    /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| VLESS \| over-vl \| .*Bandwidth limit exceeded/m,
    "deleted.log line",
  );

  await bot.start();
  await api.waitFor(
    () =>
      pushesFor(ADMIN_A.id, "over-vl").length >= 1 && pushesFor(ADMIN_B.id, "over-vl").length >= 1,
    15_000,
  );
  const ackDeadline = Date.now() + 10_000;
  while ((await pendingEvents()).length > 0 && Date.now() < ackDeadline) await sleep(100);
  assert.deepEqual(await pendingEvents(), [], "the event was acknowledged");
  // One more delivery round would have repeated it by now.
  await sleep(2500);
  const used = formatBytes(event.usedBytes);
  for (const [admin, words] of [
    [ADMIN_A, /dihapus.*kuota habis/],
    [ADMIN_B, /deleted.*quota used up/],
  ] as const) {
    const pushes = pushesFor(admin.id, "over-vl");
    assert.equal(pushes.length, 1, `exactly one push to ${admin.first_name}: ${pushes.join("\n")}`);
    const text = pushes[0] as string;
    assert.match(text, words, `reason in ${admin.language_code}: ${text}`);
    assert.ok(text.includes("· vless "), `protocol named: ${text}`);
    assert.ok(text.includes(`${used} / 2.00 MiB`), `usage vs limit, ${used} / 2.00 MiB: ${text}`);
  }
});

test("an account made while the engine is down comes with the worker's note and works after its restart", async () => {
  await server.v2ray.stop();
  let replies: string;
  try {
    replies = await addUserByChat(ADMIN_A, "vless", "down-vl", "1GB");
  } finally {
    await server.v2ray.restart();
  }
  assert.match(replies, /<b>down-vl<\/b> · vless sudah dibuat/, "created, in Ani's language");
  assert.match(
    replies,
    /⚠️ <b>Catatan<\/b>\n• the engine API at 127\.0\.0\.1:\d+ is unreachable; the account is in the config/,
    `the worker's note is shown:\n${replies}`,
  );
  const link = linksIn(replies)[0];
  assert.ok(link, `a link despite the note:\n${replies}`);
  const socksPort = await freePort();
  await startV2ray(clientFromLink(link, socksPort), { name: "link-down-vl" });
  const figures = await curlDownload(payload.bytesUrl(MiB), { socksPort });
  assert.equal(figures.sizeDownload, MiB, "the engine loaded the account at its restart");
});
