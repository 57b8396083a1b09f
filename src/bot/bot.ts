import { Bot } from "grammy";
import { autoRetry } from "@grammyjs/auto-retry";
import { conversations, createConversation } from "@grammyjs/conversations";
import { accountCommands, answerDelete, answerRenew, answerTopUp } from "./commands/accounts.js";
import { chooseLanguage, generalCommands } from "./commands/general.js";
import { infoCommands } from "./commands/info.js";
import { showUsers, usersCommand } from "./commands/users.js";
import { ADD_USER, addUserConversation } from "./adduser.js";
import { adminGuard } from "./admin-guard.js";
import { parseCallbackData } from "./callback-data.js";
import type { BotContext, BotDeps, InnerContext } from "./context.js";
import { inlineMode } from "./inline.js";
import { createI18n, localeOf, translatorFor, type Locale } from "./locales.js";
import { safeError } from "./log-safe.js";

/** How long /adduser waits for an answer before it is dropped (ms). */
const CONVERSATION_TIMEOUT_MS = 30 * 60_000;

/**
 * Builds the bot: admin guard first, then languages, /cancel, the /adduser conversation,
 * commands, buttons and inline mode. Calls are retried after Telegram's `retry_after`;
 * replies follow admins' own pace, so only pushes are paced (see EventPusher). Nothing here
 * starts polling; see `runBot`.
 */
export function createBot(deps: BotDeps) {
  const { config, languages } = deps;
  const bot = new Bot<BotContext>(config.token, {
    client: { apiRoot: config.apiRoot, timeoutSeconds: 60 },
  });
  bot.api.config.use(retry());

  const negotiate = (ctx: { from?: { id: number; language_code?: string } }) => {
    const from = ctx.from;
    if (!from) return config.defaultLocale;
    languages.see(from.id, from.language_code);
    return languages.localeFor(from.id);
  };
  const i18n = createI18n<BotContext>(config.defaultLocale, negotiate);
  const innerI18n = createI18n<InnerContext>(config.defaultLocale, negotiate);
  const strangerLocale = (code: string | undefined): Locale =>
    localeOf(code) ?? config.defaultLocale;

  bot.use(
    adminGuard(
      config.adminIds,
      (code) => translatorFor(i18n, strangerLocale(code))("refusal"),
      (code) => translatorFor(i18n, strangerLocale(code))("only-private"),
    ),
  );
  bot.use(i18n.middleware());
  bot.use(conversations<BotContext, InnerContext>());
  bot.use(generalCommands());
  bot.use(
    createConversation<BotContext, InnerContext>(addUserConversation(deps), {
      id: ADD_USER,
      plugins: [
        // Conversations build their own Api objects; they retry after 429 too. Known
        // shortcoming: this wraps the plugin's replay cache, so a 429 met earlier in a
        // conversation is waited out again on each later step of it. Ends when the plugin
        // lets transformers sit below its cache.
        (ctx, next) => {
          ctx.api.config.use(retry());
          return next();
        },
        innerI18n.middleware(),
      ],
      maxMillisecondsToWait: CONVERSATION_TIMEOUT_MS,
    }),
  );
  bot.command("adduser", (ctx) => ctx.conversation.enter(ADD_USER));
  bot.use(usersCommand(deps), accountCommands(deps), infoCommands(deps), inlineMode(deps));

  bot.on("callback_query:data", async (ctx) => {
    const action = parseCallbackData(ctx.callbackQuery.data);
    switch (action?.kind) {
      case "users":
        return showUsers(ctx, deps, action.filter, action.page, true);
      case "delete":
        return answerDelete(ctx, deps, action.name, action.confirm);
      case "renew":
        return answerRenew(ctx, deps, action.name, action.days);
      case "topup":
        return answerTopUp(ctx, deps, action.name, action.step);
      case "language":
        return chooseLanguage(ctx, deps, action.locale);
      case "noop":
        return void (await ctx.answerCallbackQuery());
      default:
        await ctx.answerCallbackQuery({ text: ctx.t("unknown-button") });
    }
  });
  bot.on("callback_query", (ctx) => ctx.answerCallbackQuery());
  bot.on("message:text", async (ctx) => {
    const unknown = ctx.message.text.startsWith("/");
    await ctx.reply(unknown ? ctx.t("unknown-command") : ctx.t("not-a-command"));
  });

  bot.catch(async (err) => {
    deps.log.error(
      { err: safeError(err.error, [config.token]), update: err.ctx.update.update_id },
      "handling an update failed",
    );
    // Tell the admin something went wrong, if there is someone to tell.
    if (err.ctx.chat?.type === "private" && config.adminIds.has(err.ctx.from?.id ?? 0)) {
      const locale = err.ctx.from ? languages.localeFor(err.ctx.from.id) : config.defaultLocale;
      await err.ctx.reply(translatorFor(i18n, locale)("internal-error")).catch(() => undefined);
    }
    if (err.ctx.callbackQuery) await err.ctx.answerCallbackQuery().catch(() => undefined);
  });
  return { bot, i18n };
}

/** Waits out Telegram's `retry_after` (429) up to two minutes, five times at most. */
function retry() {
  return autoRetry({ maxRetryAttempts: 5, maxDelaySeconds: 120 });
}
