import { test } from "node:test";
import assert from "node:assert/strict";
import { GrammyError } from "grammy";
import type { DeletionEvent } from "../../../src/control/api.js";
import { silentLogger } from "../../../src/core/log.js";
import { createI18n, translatorFor } from "../../../src/bot/locales.js";
import { Pacer } from "../../../src/bot/pacer.js";
import { EventPusher, type EventSource, type SendMessage } from "../../../src/bot/pusher.js";
import { MESSAGE_LIMIT } from "../../../src/bot/pack.js";

const i18n = createI18n("en", () => undefined);

function event(id: number): DeletionEvent {
  return {
    id,
    kind: "deleted",
    account: `user${id}`,
    protocol: "vless",
    reason: "quota",
    usedBytes: 1024 ** 3,
    limitBytes: 1024 ** 3,
    at: "2026-12-03T10:00:00.000Z",
    ackedAt: null,
  };
}

/** The worker's event table as the pusher sees it. */
function worker(count: number) {
  const pending = new Map(Array.from({ length: count }, (_, i) => [i + 1, event(i + 1)]));
  const acks: number[][] = [];
  const source: EventSource = {
    pending: async (limit) => [...pending.values()].slice(0, limit),
    ack: async (ids) => {
      acks.push(ids);
      for (const id of ids) pending.delete(id);
    },
  };
  return { pending, acks, source };
}

function pusher(source: EventSource, send: SendMessage) {
  return new EventPusher({
    source,
    send,
    admins: [1, 2],
    translate: () => translatorFor(i18n, "en"),
    pacer: new Pacer(0, 0),
    log: silentLogger,
  });
}

test("fifty events go out in two messages per admin, then are acknowledged", async () => {
  const w = worker(50);
  const sent: [number, string][] = [];
  const p = pusher(w.source, async (chat, html) => void sent.push([chat, html]));
  const r = await p.deliverOnce();
  assert.deepEqual(r, { fetched: 50, sent: 4, acked: 50 });
  assert.deepEqual(
    sent.map(([c]) => c),
    [1, 1, 2, 2],
  );
  const counts = sent.slice(0, 2).map(([, html]) => Number(/(\d+) accounts/.exec(html)?.[1]));
  assert.equal((counts[0] ?? 0) + (counts[1] ?? 0), 50);
  assert.equal(w.pending.size, 0);
});

test("a long batch is split below Telegram's limit and every event is in exactly one message", async () => {
  const w = worker(200);
  const sent: string[] = [];
  const p = pusher(w.source, async (chat, html) => void (chat === 1 && sent.push(html)));
  await p.deliverOnce();
  assert.ok(sent.length > 1);
  for (const m of sent) assert.ok(m.length <= MESSAGE_LIMIT);
  const names = sent.join("\n").match(/user\d+/g) ?? [];
  assert.equal(names.length, 200);
  assert.equal(new Set(names).size, 200);
});

test("nothing is acknowledged until every admin has it; a retry repeats nothing", async () => {
  const w = worker(3);
  const sent: number[] = [];
  let failSecond = true;
  const p = pusher(w.source, async (chat) => {
    if (chat === 2 && failSecond) throw new Error("network down");
    sent.push(chat);
  });
  await assert.rejects(p.deliverOnce(), /network down/);
  assert.equal(w.acks.length, 0);
  failSecond = false;
  await p.deliverOnce();
  assert.deepEqual(sent, [1, 2]);
  assert.deepEqual(w.acks, [[1, 2, 3]]);
});

test("an admin who blocked the bot does not hold the others' events back", async () => {
  const w = worker(2);
  const p = pusher(w.source, async (chat) => {
    if (chat === 2) {
      throw new GrammyError(
        "forbidden",
        { ok: false, error_code: 403, description: "Forbidden: bot was blocked by the user" },
        "sendMessage",
        {},
      );
    }
  });
  await p.deliverOnce();
  assert.deepEqual(w.acks, [[1, 2]]);
});

test("when no admin can take an event it stays pending", async () => {
  const w = worker(1);
  const p = pusher(w.source, async () => {
    throw new GrammyError(
      "bad",
      { ok: false, error_code: 400, description: "Bad Request: chat not found" },
      "sendMessage",
      {},
    );
  });
  await p.deliverOnce();
  await p.deliverOnce();
  assert.equal(w.acks.length, 0);
  assert.equal(w.pending.size, 1);
});

test("a crash between sending and acknowledging repeats the message once, never loses it", async () => {
  const w = worker(5);
  const sent: number[] = [];
  const failingAck: EventSource = {
    pending: w.source.pending,
    ack: async () => {
      throw new Error("killed before the ack");
    },
  };
  await assert.rejects(pusher(failingAck, async (c) => void sent.push(c)).deliverOnce());
  // A new process knows nothing of what the old one sent.
  await pusher(w.source, async (c) => void sent.push(c)).deliverOnce();
  assert.deepEqual(sent, [1, 2, 1, 2]);
  assert.equal(w.pending.size, 0);
});

test("a failed ack is retried without sending again", async () => {
  const w = worker(2);
  const sent: number[] = [];
  let ackFails = true;
  const source: EventSource = {
    pending: w.source.pending,
    ack: async (ids) => {
      if (ackFails) throw new Error("worker restarting");
      await w.source.ack(ids);
    },
  };
  const p = pusher(source, async (c) => void sent.push(c));
  await assert.rejects(p.deliverOnce());
  ackFails = false;
  await p.deliverOnce();
  assert.deepEqual(sent, [1, 2]);
  assert.equal(w.pending.size, 0);
});

test("a message reporting locked accounts carries their buttons; one without, none", async () => {
  const w = worker(2);
  const locked = w.pending.get(2) as DeletionEvent;
  w.pending.set(2, { ...locked, kind: "locked", reason: "Bandwidth limit exceeded" });
  const keyboards: string[] = [];
  const p = pusher(w.source, async (chat, _html, keyboard) => {
    if (chat === 1) keyboards.push(JSON.stringify(keyboard?.inline_keyboard ?? null));
  });
  await p.deliverOnce();
  assert.deepEqual(keyboards, [
    JSON.stringify([[{ text: "Top up user2", callback_data: "t:a:user2" }]]),
  ]);

  const plain = worker(1);
  const none: unknown[] = [];
  await pusher(
    plain.source,
    async (_chat, _html, keyboard) => void none.push(keyboard),
  ).deliverOnce();
  assert.deepEqual(none, [undefined, undefined]);
});
