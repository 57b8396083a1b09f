import type { Context } from "grammy";
import type { ConversationFlavor } from "@grammyjs/conversations";
import type { I18nFlavor } from "@grammyjs/i18n";
import type { ControlClient } from "../control/client.js";
import type { Logger } from "../core/log.js";
import type { BotConfig } from "./bot-config.js";
import type { LanguageStore } from "./language-store.js";
import type { Translate } from "./locales.js";

/** The context inside conversations: translations, no conversation controls. */
export type InnerContext = Context & I18nFlavor;

/** The context of the bot's middleware. */
export type BotContext = ConversationFlavor<InnerContext>;

/** What the bot's handlers need, passed in so tests can build the bot around fakes. */
export type BotDeps = {
  config: BotConfig;
  client: ControlClient;
  languages: LanguageStore;
  log: Logger;
};

/** `ctx.t` as a plain `Translate` for the formatting functions. */
export function translator(ctx: InnerContext): Translate {
  return (key, vars) => ctx.t(key, vars);
}

/** Options of every HTML reply: parse mode, no link previews (share links would unfurl). */
export const HTML = {
  parse_mode: "HTML",
  link_preview_options: { is_disabled: true },
} as const;
