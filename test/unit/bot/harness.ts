import { mkdtempSync, rmSync } from "node:fs";
import { after } from "node:test";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Update } from "grammy/types";
import { ControlClient } from "../../../src/control/client.js";
import { silentLogger } from "../../../src/core/log.js";
import type { BotConfig } from "../../../src/bot/bot-config.js";
import { createBot } from "../../../src/bot/bot.js";
import { LanguageStore } from "../../../src/bot/language-store.js";
import { FakeBotApi } from "../../rig/bot-api.js";

export const ADMIN = { id: 42, first_name: "Seller", language_code: "en" };
export const STRANGER = { id: 666, first_name: "Mallory", language_code: "en" };

export type Recorded = { method: string; payload: Record<string, unknown> };

/**
 * The real bot, its Bot API calls answered and recorded by the fake Bot API server on
 * loopback, and its worker socket absent unless one is given: handlers run as in
 * production, updates are handed over directly instead of polled.
 */
export async function botHarness(socketPath = join(tmpdir(), "kuota-no-such.sock")) {
  const api = new FakeBotApi("123:SECRET-TOKEN");
  await api.start();
  after(() => api.stop());
  const stateDir = mkdtempSync(join(tmpdir(), "kuota-bot-unit-"));
  after(() => rmSync(stateDir, { recursive: true, force: true }));
  const config: BotConfig = {
    token: api.token,
    adminIds: new Set([ADMIN.id]),
    defaultLocale: "en",
    apiRoot: api.apiRoot,
    stateDir,
    socketPath,
    logLevel: "silent",
  };
  const languages = new LanguageStore(stateDir, "en", silentLogger);
  const deps = { config, client: new ControlClient(socketPath), languages, log: silentLogger };
  const { bot } = createBot(deps);
  await bot.init();
  let updateId = 1;
  let messageId = 1;
  const chatOf = (from: { id: number; first_name: string }) => ({
    id: from.id,
    type: "private" as const,
    first_name: from.first_name,
  });
  return {
    bot,
    api,
    languages,
    /** Calls after start-up (getMe), in order. */
    get calls(): Recorded[] {
      return api.calls.filter((c) => c.method !== "getMe");
    },
    async send(
      from: typeof ADMIN,
      text: string,
      chat: Record<string, unknown> = chatOf(from),
    ): Promise<void> {
      const command = text.startsWith("/") ? (text.split(/\s/)[0] ?? "/") : "";
      const entities = command ? [{ type: "bot_command", offset: 0, length: command.length }] : [];
      await bot.handleUpdate({
        update_id: updateId++,
        message: {
          message_id: messageId++,
          date: 0,
          from: { is_bot: false, ...from },
          chat,
          text,
          ...(command ? { entities } : {}),
        },
      } as unknown as Update);
    },
    async press(from: typeof ADMIN, data: string): Promise<void> {
      await bot.handleUpdate({
        update_id: updateId++,
        callback_query: {
          id: String(updateId),
          from: { is_bot: false, ...from },
          chat_instance: "c",
          data,
          message: { message_id: 1, date: 0, chat: chatOf(from), text: "x" },
        },
      } as unknown as Update);
    },
    async inline(from: typeof ADMIN, query: string): Promise<void> {
      await bot.handleUpdate({
        update_id: updateId++,
        inline_query: { id: String(updateId), from: { is_bot: false, ...from }, query, offset: "" },
      } as unknown as Update);
    },
    /** Texts sent or edited in, in order. */
    texts(): string[] {
      return api.texts();
    },
  };
}
