import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** One Bot API call the bot made. */
export type ApiCall = { method: string; payload: Record<string, unknown>; at: number };

type Json = Record<string, unknown>;

/** A Telegram user as updates carry it. */
export type TgUser = { id: number; first_name: string; language_code?: string; is_bot?: false };

/**
 * A local HTTP server speaking the Bot API (`/bot<token>/<method>`), the only fake in the
 * bot's tests: Telegram is not reachable from them. Tests push updates, which the bot
 * fetches with long polling (`getUpdates` with `offset`), and read back every call the
 * bot made. It can answer 429 with `retry_after` for the next N calls of a method, and run
 * a hook after accepting a call and before answering it (to kill the bot at that moment).
 */
export class FakeBotApi {
  readonly calls: ApiCall[] = [];
  private readonly server: http.Server;
  private readonly queue: Json[] = [];
  private nextUpdateId = 1;
  private nextMessageId = 1000;
  private waiters: (() => void)[] = [];
  private readonly failures = new Map<string, { left: number; retryAfter: number }>();
  private readonly hooks = new Map<string, (call: ApiCall) => Promise<void> | void>();
  private closed = false;

  constructor(readonly token = "123:TEST") {
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  /** Listens on 127.0.0.1 at a free port. */
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
  }

  /** The value for TELEGRAM_API_ROOT. */
  get apiRoot(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.wake();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Queues an update for the next getUpdates; returns its update_id. */
  push(update: Json): number {
    const id = this.nextUpdateId++;
    this.queue.push({ update_id: id, ...update });
    this.wake();
    return id;
  }

  /** A text message from `from` in their private chat (or in `chat`). */
  message(from: TgUser, text: string, chat?: Json): number {
    const entities = text.startsWith("/")
      ? [{ type: "bot_command", offset: 0, length: text.split(/\s/)[0]?.length ?? 1 }]
      : undefined;
    return this.push({
      message: {
        message_id: this.nextMessageId++,
        date: Math.floor(Date.now() / 1000),
        from: { is_bot: false, ...from },
        chat: chat ?? { id: from.id, type: "private", first_name: from.first_name },
        text,
        ...(entities ? { entities } : {}),
      },
    });
  }

  /** A button press by `from` on message `messageId` of their private chat. */
  press(from: TgUser, data: string, messageId = 1): number {
    return this.push({
      callback_query: {
        id: `cq${this.nextUpdateId}`,
        from: { is_bot: false, ...from },
        chat_instance: "ci",
        data,
        message: {
          message_id: messageId,
          date: Math.floor(Date.now() / 1000),
          chat: { id: from.id, type: "private", first_name: from.first_name },
          from: { id: 123, is_bot: true, first_name: "kuota" },
          text: "…",
        },
      },
    });
  }

  /** An inline query `@bot query` typed by `from`. */
  inline(from: TgUser, query: string): number {
    return this.push({
      inline_query: {
        id: `iq${this.nextUpdateId}`,
        from: { is_bot: false, ...from },
        query,
        offset: "",
      },
    });
  }

  /** The next `count` calls of `method` answer 429 with `retry_after` seconds. */
  rateLimit(method: string, count: number, retryAfter = 1): void {
    this.failures.set(method, { left: count, retryAfter });
  }

  /**
   * Runs `hook` for each later call of `method` after it is recorded (accepted) and before it
   * is answered; a hook that kills the bot makes "accepted, then the bot died".
   */
  onAccepted(method: string, hook: ((call: ApiCall) => Promise<void> | void) | null): void {
    if (hook) this.hooks.set(method, hook);
    else this.hooks.delete(method);
  }

  /** Calls of one method, in order. */
  callsOf(method: string): ApiCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Texts the bot sent or put in place by editing, in order. */
  texts(chatId?: number): string[] {
    return this.calls
      .filter((c) => c.method === "sendMessage" || c.method === "editMessageText")
      .filter((c) => chatId === undefined || c.payload.chat_id === chatId)
      .map((c) => String(c.payload.text));
  }

  /** Waits until `predicate` holds for the calls so far. */
  async waitFor(predicate: (calls: ApiCall[]) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (predicate(this.calls)) return;
      await sleep(25);
    }
    const recent = this.calls.slice(-15).map((c) => `${c.method} ${JSON.stringify(c.payload)}`);
    throw new Error(`condition not met in ${timeoutMs} ms; last calls:\n${recent.join("\n")}`);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(req.url?.split("?")[0] ?? "");
    const send = (status: number, body: Json) => {
      if (res.destroyed) return;
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (!m) return send(404, { ok: false, error_code: 404, description: "Not Found" });
    if (decodeURIComponent(m[1] as string) !== this.token) {
      return send(401, { ok: false, error_code: 401, description: "Unauthorized" });
    }
    const method = m[2] as string;
    let payload: Json = {};
    const body = Buffer.concat(chunks).toString("utf8");
    if (body) {
      try {
        payload = JSON.parse(body) as Json;
      } catch {
        return send(400, { ok: false, error_code: 400, description: "Bad Request: not JSON" });
      }
    }

    if (method === "getUpdates")
      return send(200, { ok: true, result: await this.updates(payload) });

    const failure = this.failures.get(method);
    if (failure && failure.left > 0) {
      failure.left--;
      this.calls.push({ method: `${method}:429`, payload, at: Date.now() });
      return send(429, {
        ok: false,
        error_code: 429,
        description: `Too Many Requests: retry after ${failure.retryAfter}`,
        parameters: { retry_after: failure.retryAfter },
      });
    }
    const call = { method, payload, at: Date.now() };
    this.calls.push(call);
    const hook = this.hooks.get(method);
    if (hook) await hook(call);
    send(200, { ok: true, result: this.result(method, payload) });
  }

  private async updates(payload: Json): Promise<Json[]> {
    const offset = Number(payload.offset ?? 0);
    while (this.queue.length > 0 && Number(this.queue[0]?.update_id) < offset) this.queue.shift();
    const timeoutS = Math.min(Number(payload.timeout ?? 0), 2);
    if (this.queue.length === 0 && timeoutS > 0 && !this.closed) {
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, timeoutS * 1000);
      });
    }
    this.calls.push({ method: "getUpdates", payload, at: Date.now() });
    return this.queue.slice(0, Number(payload.limit ?? 100));
  }

  private result(method: string, payload: Json): unknown {
    const now = Math.floor(Date.now() / 1000);
    switch (method) {
      case "getMe":
        return {
          id: 123,
          is_bot: true,
          first_name: "kuota",
          username: "kuota_test_bot",
          can_join_groups: false,
          can_read_all_group_messages: false,
          supports_inline_queries: true,
          can_connect_to_business: false,
          has_main_web_app: false,
        };
      case "sendMessage":
        return {
          message_id: this.nextMessageId++,
          date: now,
          chat: { id: payload.chat_id, type: "private" },
          from: { id: 123, is_bot: true, first_name: "kuota" },
          text: payload.text,
        };
      case "editMessageText":
        return {
          message_id: payload.message_id,
          date: now,
          chat: { id: payload.chat_id, type: "private" },
          text: payload.text,
        };
      default:
        return true;
    }
  }
}
