import { Composer } from "grammy";
import type { InlineQueryResultArticle } from "grammy/types";
import type { AccountView } from "../control/api.js";
import { translator, type BotContext, type BotDeps } from "./context.js";
import { accountCard, accountSummary, byUsage } from "./format.js";
import { workerErrorText } from "./worker-errors.js";

/** Cards offered per inline query. */
const MAX_RESULTS = 20;
/** Seconds Telegram may cache an admin's inline answer. */
export const INLINE_CACHE_SECONDS = 5;

/**
 * Inline mode: `@bot al` lists the accounts whose name starts with (then contains) `al` as
 * cards; choosing one sends the account's usage card into the chat. Answers are personal
 * to the admin and cached briefly. When the worker cannot answer, the list is empty.
 */
export function inlineMode(deps: BotDeps): Composer<BotContext> {
  const c = new Composer<BotContext>();
  c.on("inline_query", async (ctx) => {
    const query = ctx.inlineQuery.query.trim().toLowerCase().slice(0, 64);
    let accounts: AccountView[];
    try {
      ({ accounts } = await deps.client.get<{ accounts: AccountView[] }>("/v1/usage"));
    } catch (err) {
      if (workerErrorText(translator(ctx), err) === null) throw err;
      await ctx.answerInlineQuery([], { cache_time: 0, is_personal: true });
      return;
    }
    const t = translator(ctx);
    const results: InlineQueryResultArticle[] = matching(accounts, query)
      .slice(0, MAX_RESULTS)
      .map((a) => ({
        type: "article",
        id: `a:${a.username}`.slice(0, 64),
        title: a.username,
        description: accountSummary(t, a),
        input_message_content: {
          message_text: accountCard(t, a),
          parse_mode: "HTML",
        },
      }));
    await ctx.answerInlineQuery(results, {
      cache_time: INLINE_CACHE_SECONDS,
      is_personal: true,
    });
  });
  return c;
}

/** Accounts whose name starts with `query` first, then those containing it; by usage within. */
export function matching(accounts: readonly AccountView[], query: string): AccountView[] {
  const sorted = byUsage(accounts);
  if (query === "") return sorted;
  const starts = sorted.filter((a) => a.username.toLowerCase().startsWith(query));
  const contains = sorted.filter(
    (a) => !a.username.toLowerCase().startsWith(query) && a.username.toLowerCase().includes(query),
  );
  return [...starts, ...contains];
}
