import type { Command } from "../command.js";
import { createLogger, type LogLevel } from "../../core/log.js";
import { loadBotConfig } from "../../bot/bot-config.js";
import { runBot } from "../../bot/run-bot.js";

export const botCommand: Command = {
  name: "bot",
  summary: "run the Telegram bot in the foreground (asks the worker for everything)",
  help: `Usage: kuota bot [--log-level LEVEL]

Runs the Telegram bot until SIGTERM or SIGINT, with long polling. Only the
Telegram users in ADMIN_IDS are served; everyone else gets a short refusal.
Deletions and locks recorded by the worker are pushed to every admin, also
those recorded while the bot was stopped; a locked account comes with a Top up
(over its quota) or Renew (expired) button that unlocks it. Run it as an unprivileged user in
the control socket's group (KUOTA_SOCKET_GROUP).

Configuration (environment or KUOTA_ENV_FILE): BOT_TOKEN, ADMIN_IDS,
BOT_LOCALE (en or id), TELEGRAM_API_ROOT, BOT_STATE_DIR, KUOTA_SOCKET.

Examples:
  kuota bot
  BOT_LOCALE=id kuota bot --log-level debug`,
  async run({ values }) {
    const config = loadBotConfig();
    const level = (values["log-level"] as LogLevel | undefined) ?? config.logLevel;
    await runBot(config, createLogger(level));
    return 0;
  },
};
