import { Composer, InlineKeyboard } from "grammy";
import { HTML, type BotContext, type BotDeps } from "../context.js";
import { callbackData } from "../callback-data.js";
import type { Locale } from "../locales.js";

/** /start, /help, /language and /cancel. /cancel must sit before the conversations. */
export function generalCommands(): Composer<BotContext> {
  const c = new Composer<BotContext>();
  c.command("start", (ctx) => ctx.reply(ctx.t("start-text"), HTML));
  c.command("help", (ctx) => ctx.reply(ctx.t("help-text"), HTML));
  c.command("language", (ctx) =>
    ctx.reply(ctx.t("language-choose"), {
      reply_markup: new InlineKeyboard()
        .text(ctx.t("language-button-en"), callbackData.language("en"))
        .text(ctx.t("language-button-id"), callbackData.language("id")),
    }),
  );
  c.command("cancel", async (ctx) => {
    const active = Object.keys(ctx.conversation.active()).length > 0;
    await ctx.conversation.exitAll();
    await ctx.reply(active ? ctx.t("cancel-done") : ctx.t("cancel-nothing"));
  });
  return c;
}

/** Stores the admin's language and confirms it in that language. */
export async function chooseLanguage(ctx: BotContext, deps: BotDeps, locale: Locale) {
  if (ctx.from) deps.languages.choose(ctx.from.id, locale);
  await ctx.i18n.renegotiateLocale();
  await ctx.answerCallbackQuery();
  await ctx.editMessageText(ctx.t("language-set"));
}
