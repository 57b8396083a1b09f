import type { Command } from "../command.js";
import { workerCommand } from "./worker.js";
import { usageCommand } from "./usage.js";
import { accountCommand } from "./account.js";
import { topCommand } from "./top.js";
import { completionCommand } from "./completion.js";
import { botCommand } from "./bot.js";
import { hostsCommand } from "./hosts.js";
import { captureCommand } from "./capture.js";
import { checkCommand } from "./check.js";

/** Every top-level command, in the order `kuota --help` lists them. */
export const COMMANDS: Command[] = [
  workerCommand,
  usageCommand,
  accountCommand,
  checkCommand,
  botCommand,
  topCommand,
  completionCommand,
  hostsCommand,
  captureCommand,
];
