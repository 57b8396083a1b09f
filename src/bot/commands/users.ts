import { Composer, GrammyError, InlineKeyboard } from "grammy";
import { PROTOCOLS, type Protocol } from "../../store/store.js";
import type { AccountView } from "../../control/api.js";
import { callbackData } from "../callback-data.js";
import { HTML, translator, type BotContext, type BotDeps } from "../context.js";
import { byUsage, usersPage } from "../format.js";
import { askWorker } from "../reply.js";

type Filter = Protocol | "all";

/** /users: accounts by usage, a page at a time, with protocol filter buttons. */
export function usersCommand(deps: BotDeps): Composer<BotContext> {
  const c = new Composer<BotContext>();
  c.command("users", (ctx) => showUsers(ctx, deps, "all", 0, false));
  return c;
}

/** Sends (or, for a button press, edits in place) one page of /users. */
export async function showUsers(
  ctx: BotContext,
  deps: BotDeps,
  filter: Filter,
  page: number,
  edit: boolean,
): Promise<void> {
  if (edit) await ctx.answerCallbackQuery();
  const answer = await askWorker(ctx, () =>
    deps.client.get<{ accounts: AccountView[] }>("/v1/usage"),
  );
  if (!answer) return;
  const shown = byUsage(answer.accounts.filter((a) => filter === "all" || a.protocol === filter));
  const label = filter === "all" ? ctx.t("filter-all") : filter;
  const view = usersPage(translator(ctx), shown, label, page);
  const keyboard = new InlineKeyboard();
  const filters: Filter[] = ["all", ...PROTOCOLS];
  filters.forEach((f, i) => {
    const text = f === "all" ? ctx.t("filter-all") : f === "shadowsocks" ? "ss" : f;
    keyboard.text(f === filter ? `• ${text}` : text, callbackData.users(f, 0));
    if (i % 3 === 2) keyboard.row();
  });
  if (view.pages > 1) {
    keyboard.row();
    if (view.page > 0) {
      keyboard.text(ctx.t("button-prev"), callbackData.users(filter, view.page - 1));
    }
    keyboard.text(`${view.page + 1}/${view.pages}`, callbackData.noop());
    if (view.page < view.pages - 1) {
      keyboard.text(ctx.t("button-next"), callbackData.users(filter, view.page + 1));
    }
  }
  const options = { ...HTML, reply_markup: keyboard };
  if (!edit) {
    await ctx.reply(view.text, options);
    return;
  }
  try {
    await ctx.editMessageText(view.text, options);
  } catch (err) {
    // Pressing the filter that is already shown changes nothing; Telegram says so with a 400.
    const unchanged = err instanceof GrammyError && /not modified/i.test(err.description);
    if (!unchanged) throw err;
  }
}
