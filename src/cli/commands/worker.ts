import type { Command } from "../command.js";
import { loadConfig } from "../../config/config.js";
import { createLogger, type LogLevel } from "../../core/log.js";
import { runWorker } from "../../worker/worker.js";

export const workerCommand: Command = {
  name: "worker",
  summary: "run the privileged worker in the foreground (accounting, enforcement, capture)",
  help: `Usage: kuota worker [--log-level LEVEL]

Runs the worker in the foreground until SIGTERM or SIGINT, then persists
everything and exits 0. Logs are JSON lines on stdout. Configuration comes from
the environment and KUOTA_ENV_FILE (default /etc/kuota/kuota.env).

Examples:
  kuota worker
  kuota worker --log-level debug`,
  async run({ values }) {
    const config = loadConfig();
    const level = (values["log-level"] as LogLevel | undefined) ?? config.logLevel;
    await runWorker(config, createLogger(level));
    return 0;
  },
};
