import { GrammyError, type InlineKeyboard } from "grammy";
import type { DeletionEvent } from "../control/api.js";
import type { Logger } from "../core/log.js";
import { eventLine } from "./format.js";
import type { Translate } from "./locales.js";
import { MESSAGE_LIMIT, packBlocks } from "./pack.js";
import type { Pacer } from "./pacer.js";
import { lockedKeyboard } from "./sell-buttons.js";

/** Where events come from and where acknowledgements go: the worker's /v1/events routes. */
export type EventSource = {
  pending(limit: number): Promise<DeletionEvent[]>;
  ack(ids: number[]): Promise<void>;
};

/**
 * Sends one HTML message, with buttons under it when given; resolves once Telegram
 * accepted it.
 */
export type SendMessage = (
  chatId: number,
  html: string,
  keyboard: InlineKeyboard | undefined,
) => Promise<void>;

export type PusherOptions = {
  source: EventSource;
  send: SendMessage;
  admins: readonly number[];
  /** The translation function for an admin's language at the moment of sending. */
  translate: (admin: number) => Translate;
  pacer: Pacer;
  log: Logger;
  /** Wait between two looks at the worker when nothing is pending (ms, default 2000). */
  idleMs?: number;
  /** Events fetched at once (default 200). */
  batchSize?: number;
};

/** Room left in every message for the header line. */
const HEADER_ROOM = 120;

/**
 * Delivers the worker's deletion and lock events to every admin, at least once.
 *
 * An event is acknowledged to the worker only after Telegram accepted a message holding it
 * for every admin (an admin whose chat refuses the bot for good — blocked, never started —
 * is skipped with a warning, as long as one admin got it). What was delivered to whom is
 * remembered between rounds, so a failed send or ack repeats nothing already accepted; only a
 * crash between Telegram's acceptance and the acknowledgement repeats a message, once.
 * Events pending when the bot starts go out in the first round.
 */
export class EventPusher {
  /** Per pending event: admins Telegram accepted it for, and admins refusing for good. */
  private readonly progress = new Map<number, { sent: Set<number>; refused: Set<number> }>();
  private readonly idleMs: number;
  private readonly batchSize: number;
  private stopping = new AbortController();
  private loop: Promise<void> | null = null;
  private reported = "";

  constructor(private readonly o: PusherOptions) {
    this.idleMs = o.idleMs ?? 2000;
    this.batchSize = o.batchSize ?? 200;
  }

  /** Starts the delivery loop; `stop` ends it after the message in flight. */
  start(): void {
    if (this.loop) return;
    this.stopping = new AbortController();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    this.loop = null;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      let wait = this.idleMs;
      try {
        const { fetched } = await this.deliverOnce();
        if (this.reported) this.o.log.info("event delivery works again");
        this.reported = "";
        failures = 0;
        if (fetched >= this.batchSize) wait = 0;
      } catch (err) {
        failures++;
        // Back off up to a minute; say each distinct problem once.
        wait = Math.min(60_000, this.idleMs * 2 ** Math.min(failures, 5));
        const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        if (text !== this.reported) {
          this.reported = text;
          this.o.log.warn(
            { err: { type: (err as Error)?.name, message: text }, retryMs: wait },
            "event delivery failed; retrying",
          );
        }
      }
      await this.pause(wait);
    }
  }

  private pause(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.stopping.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * One round: fetch pending events, send what each admin has not received yet (batched,
   * split at Telegram's limit, paced), then acknowledge what every admin has.
   * @throws when the worker cannot be asked, or a transient send error stopped the round
   *   (what was sent is remembered; the ack of fully delivered events still happens first)
   */
  async deliverOnce(): Promise<{ fetched: number; sent: number; acked: number }> {
    const events = await this.o.source.pending(this.batchSize);
    const ids = new Set(events.map((e) => e.id));
    for (const id of this.progress.keys()) if (!ids.has(id)) this.progress.delete(id);
    for (const e of events) {
      if (!this.progress.has(e.id))
        this.progress.set(e.id, { sent: new Set(), refused: new Set() });
    }

    let sent = 0;
    let failure: unknown = null;
    for (const admin of this.o.admins) {
      if (failure !== null || this.stopping.signal.aborted) break;
      const todo = events.filter((e) => {
        const p = this.progress.get(e.id);
        return p !== undefined && !p.sent.has(admin) && !p.refused.has(admin);
      });
      for (const message of this.messages(this.o.translate(admin), todo)) {
        const holds = message.events.map((e) => this.progress.get(e.id));
        try {
          await this.o.pacer.chat(admin);
          await this.o.pacer.global();
          await this.o.send(admin, message.html, message.keyboard);
          this.o.pacer.sent(admin);
          holds.forEach((p) => p?.sent.add(admin));
          sent++;
        } catch (err) {
          if (err instanceof GrammyError && (err.error_code === 400 || err.error_code === 403)) {
            this.o.log.warn(
              { admin, errorCode: err.error_code, description: err.description },
              "Telegram refuses messages to this admin; skipping them for these events",
            );
            holds.forEach((p) => p?.refused.add(admin));
            break;
          }
          failure = err;
          break;
        }
      }
    }

    const done: number[] = [];
    for (const e of events) {
      const p = this.progress.get(e.id);
      if (!p || p.sent.size === 0) continue;
      if (this.o.admins.every((a) => p.sent.has(a) || p.refused.has(a))) done.push(e.id);
    }
    // Nobody could take these: try everyone again next round rather than drop them.
    for (const e of events) {
      const p = this.progress.get(e.id);
      if (p && p.sent.size === 0 && p.refused.size === this.o.admins.length) p.refused.clear();
    }
    if (done.length > 0) {
      await this.o.source.ack(done);
      for (const id of done) this.progress.delete(id);
      this.o.log.info({ events: done.length, messages: sent }, "events delivered to admins");
    }
    if (failure !== null) throw failure;
    return { fetched: events.length, sent, acked: done.length };
  }

  /**
   * The events for one admin as messages: a header with the count, then one line each;
   * under a message, a top-up or renewal button for each account it reports locked.
   */
  private messages(
    t: Translate,
    events: readonly DeletionEvent[],
  ): { html: string; events: DeletionEvent[]; keyboard: InlineKeyboard | undefined }[] {
    if (events.length === 0) return [];
    const lines = events.map((e) => eventLine(t, e));
    return packBlocks(lines, MESSAGE_LIMIT - HEADER_ROOM).map((m) => {
      const held = m.blocks.map((i) => events[i] as DeletionEvent);
      return {
        html: `${t("push-header", { count: m.blocks.length })}\n${m.text}`,
        events: held,
        keyboard: lockedKeyboard(t, held),
      };
    });
  }
}
