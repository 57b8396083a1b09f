import { Composer, InlineKeyboard } from "grammy";
import { formatBytes } from "../../accounts/sizes.js";
import type { AccountView, DeletionReport } from "../../control/api.js";
import { nameProblem, parseDays, parseLimit, splitArgs } from "../args.js";
import { callbackData } from "../callback-data.js";
import { HTML, translator, type BotContext, type BotDeps } from "../context.js";
import { accountCard, limitText, timeText } from "../format.js";
import { clip, escapeHtml } from "../html.js";
import { accountPath, askWorker } from "../reply.js";
import { cardKeyboard } from "../sell-buttons.js";

/** The account from the worker; undefined when the worker said no (the admin was told why). */
function fetchAccount(
  ctx: BotContext,
  deps: BotDeps,
  name: string,
): Promise<AccountView | undefined> {
  return askWorker(
    ctx,
    () => deps.client.get<AccountView>(accountPath("/v1/usage", name)),
    escapeHtml(name),
  );
}

/**
 * The account named by a command's first argument. Undefined when there is none, the name is
 * not one (the admin gets `usageKey`'s text or the problem) or the worker said no.
 */
async function accountInArgs(
  ctx: BotContext,
  deps: BotDeps,
  args: string,
  usageKey: string,
): Promise<AccountView | undefined> {
  const [name] = splitArgs(args);
  if (name === undefined) {
    await ctx.reply(ctx.t(usageKey), HTML);
    return undefined;
  }
  const problem = nameProblem(translator(ctx), name);
  if (problem) {
    await ctx.reply(problem, HTML);
    return undefined;
  }
  return fetchAccount(ctx, deps, name);
}

/** /usage NAME, /limit NAME SIZE, /renew NAME DAYS, /delete NAME (confirmed with a button). */
export function accountCommands(deps: BotDeps): Composer<BotContext> {
  const c = new Composer<BotContext>();
  const { client } = deps;

  c.command("usage", async (ctx) => {
    const view = await accountInArgs(ctx, deps, ctx.match, "usage-needs-name");
    if (view) {
      const t = translator(ctx);
      await ctx.reply(accountCard(t, view), { ...HTML, reply_markup: cardKeyboard(t, view) });
    }
  });

  c.command("limit", async (ctx) => {
    const [name, ...sizeWords] = splitArgs(ctx.match);
    if (name === undefined || sizeWords.length === 0) {
      return void (await ctx.reply(ctx.t("limit-usage"), HTML));
    }
    const t = translator(ctx);
    const problem = nameProblem(t, name);
    if (problem) return void (await ctx.reply(problem, HTML));
    const size = parseLimit(t, sizeWords.join(" "));
    if (!size.ok) return void (await ctx.reply(size.problem, HTML));
    const view = await askWorker(
      ctx,
      () =>
        client.post<AccountView>(accountPath("/v1/accounts", name, "/limit"), {
          limit: size.bytes,
        }),
      escapeHtml(name),
    );
    if (view) {
      await ctx.reply(
        ctx.t("limit-done", { name: escapeHtml(name), limit: limitText(t, view.limit_bytes) }),
        HTML,
      );
    }
  });

  c.command("renew", async (ctx) => {
    const [name, daysWord, ...rest] = splitArgs(ctx.match);
    if (name === undefined || daysWord === undefined || rest.length > 0) {
      return void (await ctx.reply(ctx.t("renew-usage"), HTML));
    }
    const t = translator(ctx);
    const problem = nameProblem(t, name);
    if (problem) return void (await ctx.reply(problem, HTML));
    const days = parseDays(t, daysWord);
    if (!days.ok) return void (await ctx.reply(days.problem, HTML));
    const view = await askWorker(
      ctx,
      () =>
        client.post<AccountView>(
          accountPath("/v1/accounts", name, "/expiry"),
          days.days === null ? { never: true } : { days: days.days },
        ),
      escapeHtml(name),
    );
    if (view) {
      await ctx.reply(
        ctx.t("renew-done", {
          name: escapeHtml(view.username),
          expires: timeText(view.expires_at, t("never")),
        }),
        HTML,
      );
    }
  });

  c.command("delete", async (ctx) => {
    const view = await accountInArgs(ctx, deps, ctx.match, "delete-usage");
    if (!view) return;
    await ctx.reply(
      ctx.t("delete-confirm", {
        name: escapeHtml(view.username),
        protocol: escapeHtml(view.protocol),
        used: formatBytes(view.total_usage.total_bytes),
      }),
      {
        ...HTML,
        reply_markup: new InlineKeyboard()
          .text(ctx.t("button-delete-yes"), callbackData.deleteConfirm(view.username))
          .text(ctx.t("button-delete-no"), callbackData.deleteCancel(view.username)),
      },
    );
  });
  return c;
}

/** The answer to a Delete/Keep button: runs the deletion and shows its steps. */
export async function answerDelete(
  ctx: BotContext,
  deps: BotDeps,
  name: string,
  confirm: boolean,
): Promise<void> {
  await ctx.answerCallbackQuery();
  const shown = escapeHtml(name);
  if (!confirm) {
    await ctx.editMessageText(ctx.t("delete-cancelled", { name: shown }), HTML);
    return;
  }
  // Take the buttons away first, so a second press cannot start a second deletion.
  await ctx.editMessageReplyMarkup({ reply_markup: new InlineKeyboard() }).catch(() => undefined);
  const report = await askWorker(
    ctx,
    () =>
      deps.client.request<DeletionReport>("DELETE", accountPath("/v1/accounts", name), {
        reason: `deleted from Telegram by admin ${ctx.from?.id ?? "?"}`,
      }),
    shown,
  );
  if (!report) return;
  const lines = report.steps.map((s) =>
    s.ok
      ? ctx.t("delete-step-ok", { step: escapeHtml(s.step) })
      : ctx.t("delete-step-failed", {
          step: escapeHtml(s.step),
          detail: escapeHtml(clip(s.detail ?? "", 200)),
        }),
  );
  const head = report.complete
    ? ctx.t("delete-done", { name: shown })
    : ctx.t("delete-partial", { name: shown });
  await ctx.editMessageText([head, ...lines].join("\n"), HTML);
}

/** The renew button under an account card: adds `days` and says the new expiry. */
export async function answerRenew(
  ctx: BotContext,
  deps: BotDeps,
  name: string,
  days: number,
): Promise<void> {
  await ctx.answerCallbackQuery();
  const view = await askWorker(
    ctx,
    () => deps.client.post<AccountView>(accountPath("/v1/accounts", name, "/expiry"), { days }),
    escapeHtml(name),
  );
  if (!view) return;
  await ctx.reply(
    ctx.t("renew-done", {
      name: escapeHtml(view.username),
      expires: timeText(view.expires_at, ctx.t("never")),
    }),
    HTML,
  );
}

/**
 * The top-up button: "ask" shows what a top-up does with Reset/Keep buttons; "yes" sets the
 * usage back to 0 with the limit the account has now (a locked account is unlocked by it);
 * "no" leaves it.
 */
export async function answerTopUp(
  ctx: BotContext,
  deps: BotDeps,
  name: string,
  step: "ask" | "yes" | "no",
): Promise<void> {
  await ctx.answerCallbackQuery();
  const shown = escapeHtml(name);
  const t = translator(ctx);
  if (step === "no") {
    await ctx.editMessageText(ctx.t("topup-cancelled", { name: shown }), HTML);
    return;
  }
  if (step === "yes") {
    // Take the buttons away first, so a second press cannot reset twice.
    await ctx.editMessageReplyMarkup({ reply_markup: new InlineKeyboard() }).catch(() => undefined);
  }
  const view = await fetchAccount(ctx, deps, name);
  if (!view) return;
  if (view.limit_bytes === null) {
    await ctx.reply(ctx.t("topup-no-limit", { name: shown }), HTML);
    return;
  }
  if (step === "ask") {
    await ctx.reply(
      ctx.t("topup-confirm", {
        name: shown,
        used: formatBytes(view.total_usage.total_bytes),
        limit: limitText(t, view.limit_bytes),
      }),
      {
        ...HTML,
        reply_markup: new InlineKeyboard()
          .text(ctx.t("button-topup-yes"), callbackData.topUp("yes", view.username))
          .text(ctx.t("button-topup-no"), callbackData.topUp("no", view.username)),
      },
    );
    return;
  }
  const after = await askWorker(
    ctx,
    () =>
      deps.client.post<AccountView>(accountPath("/v1/accounts", name, "/limit"), {
        limit: view.limit_bytes,
        reset: true,
      }),
    shown,
  );
  if (!after) return;
  await ctx.editMessageText(
    ctx.t("topup-done", { name: shown, limit: limitText(t, after.limit_bytes) }),
    HTML,
  );
}
