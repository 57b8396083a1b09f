import type { Context, MiddlewareFn } from "grammy";

/** Least time between two refusals to one stranger (ms), so the bot cannot be made to spam. */
export const REFUSAL_INTERVAL_MS = 30_000;

/**
 * The first middleware: only admins get further. Strangers learn nothing: a private
 * message gets one short refusal (at most one per REFUSAL_INTERVAL_MS), an inline query an
 * empty answer, a button press an empty acknowledgement; anything else is dropped. Admins
 * are served in private chats and through inline mode; in groups their commands get a hint
 * to use a private chat, since replies there would show accounts to everyone in the group.
 *
 * @param refusal the refusal text in a Telegram language (`language_code`), or the default
 * @param onlyPrivate the hint for admins in groups
 */
export function adminGuard(
  admins: ReadonlySet<number>,
  refusal: (languageCode: string | undefined) => string,
  onlyPrivate: (languageCode: string | undefined) => string,
  now: () => number = Date.now,
): MiddlewareFn<Context> {
  const lastRefusal = new Map<number, number>();
  return async (ctx, next) => {
    const from = ctx.from;
    const isAdmin = from !== undefined && !from.is_bot && admins.has(from.id);
    const chatType = ctx.chat?.type;
    const isPrivate = chatType === undefined || chatType === "private";

    if (isAdmin && isPrivate) return next();

    if (ctx.inlineQuery) {
      if (isAdmin) return next();
      await ctx.answerInlineQuery([], { cache_time: 0, is_personal: true });
      return;
    }
    if (ctx.callbackQuery) {
      await ctx.answerCallbackQuery();
      return;
    }
    const text = ctx.message?.text;
    if (isAdmin) {
      if (text?.startsWith("/")) await ctx.reply(onlyPrivate(from.language_code));
      return;
    }
    if (!ctx.message || chatType !== "private" || from === undefined) return;
    const t = now();
    if (t - (lastRefusal.get(from.id) ?? -Infinity) < REFUSAL_INTERVAL_MS) return;
    if (lastRefusal.size > 10_000) lastRefusal.clear();
    lastRefusal.set(from.id, t);
    await ctx.reply(refusal(from.language_code));
  };
}
