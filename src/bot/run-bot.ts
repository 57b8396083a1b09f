import { GrammyError, HttpError, type Api } from "grammy";
import type { StatusView, DeletionEvent } from "../control/api.js";
import { ControlClient } from "../control/client.js";
import { OperatorError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import type { BotConfig } from "./bot-config.js";
import { createBot } from "./bot.js";
import { HTML } from "./context.js";
import { LanguageStore } from "./language-store.js";
import { LOCALES, translatorFor, type Locale, type Translate } from "./locales.js";
import { safeError } from "./log-safe.js";
import { Pacer } from "./pacer.js";
import { EventPusher } from "./pusher.js";

/** Commands shown in Telegram's menu, in the order of /help. */
const MENU = [
  "start",
  "help",
  "adduser",
  "users",
  "usage",
  "limit",
  "renew",
  "delete",
  "hosts",
  "deleted",
  "status",
  "language",
  "cancel",
] as const;

/**
 * Runs the bot until SIGTERM or SIGINT: long polling for admins' updates, and the loop
 * that pushes the worker's events. Resolves after both stopped.
 * @throws OperatorError when Telegram refuses the token or cannot be reached at start
 */
export async function runBot(config: BotConfig, log: Logger): Promise<void> {
  const client = new ControlClient(config.socketPath);
  const languages = new LanguageStore(
    config.stateDir,
    config.defaultLocale,
    log.child({ component: "languages" }),
  );
  const pacer = new Pacer();
  const deps = { config, client, languages, log: log.child({ component: "bot" }) };
  const { bot, i18n } = createBot(deps);

  try {
    await bot.init();
  } catch (err) {
    if (err instanceof GrammyError && err.error_code === 401) {
      throw new OperatorError(
        "Telegram refused BOT_TOKEN (401 Unauthorized)",
        "copy the token again from @BotFather into BOT_TOKEN",
        2,
      );
    }
    if (err instanceof HttpError) {
      throw new OperatorError(
        `cannot reach the Bot API at ${config.apiRoot}`,
        "check the network, or TELEGRAM_API_ROOT",
      );
    }
    throw err;
  }
  await setMenus(bot.api, (locale) => translatorFor(i18n, locale), log);
  await client.get<StatusView>("/v1/status").catch((err: unknown) => {
    log.warn(
      { err: safeError(err, [config.token]) },
      "the worker does not answer yet; commands will say so until it does",
    );
  });

  const pusher = new EventPusher({
    source: {
      pending: async (limit) =>
        (await client.get<{ events: DeletionEvent[] }>(`/v1/events/pending?limit=${limit}`)).events,
      ack: async (ids) => {
        await client.post("/v1/events/ack", { ids });
      },
    },
    send: async (chatId, html, keyboard) => {
      await bot.api.sendMessage(chatId, html, { ...HTML, reply_markup: keyboard });
    },
    admins: [...config.adminIds],
    translate: (admin) => translatorFor(i18n, languages.localeFor(admin)),
    pacer,
    log: log.child({ component: "push" }),
  });

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    log.info("stopping the bot");
    void pusher.stop().then(() => bot.stop());
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);

  pusher.start();
  try {
    await bot.start({
      drop_pending_updates: false,
      allowed_updates: ["message", "callback_query", "inline_query", "chosen_inline_result"],
      onStart: (me) => log.info({ bot: me.username, admins: config.adminIds.size }, "bot started"),
    });
  } finally {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
    await pusher.stop();
  }
  log.info("bot stopped");
}

/** Sets the command menu in every language; a failure only costs the menu. */
async function setMenus(
  api: Api,
  translate: (locale: Locale) => Translate,
  log: Logger,
): Promise<void> {
  for (const locale of LOCALES) {
    const t = translate(locale);
    const commands = MENU.map((command) => ({ command, description: menuText(t, command) }));
    try {
      await api.setMyCommands(commands, locale === "en" ? {} : { language_code: locale });
    } catch (err) {
      log.warn({ locale, err: { message: (err as Error).message } }, "cannot set the command menu");
    }
  }
}

function menuText(t: (key: string) => string, command: (typeof MENU)[number]): string {
  switch (command) {
    case "start":
      return t("cmd-start");
    case "help":
      return t("cmd-help");
    case "adduser":
      return t("cmd-adduser");
    case "users":
      return t("cmd-users");
    case "usage":
      return t("cmd-usage");
    case "limit":
      return t("cmd-limit");
    case "renew":
      return t("cmd-renew");
    case "delete":
      return t("cmd-delete");
    case "hosts":
      return t("cmd-hosts");
    case "deleted":
      return t("cmd-deleted");
    case "status":
      return t("cmd-status");
    case "language":
      return t("cmd-language");
    case "cancel":
      return t("cmd-cancel");
  }
}
