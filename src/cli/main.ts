#!/usr/bin/env node
import { COMMANDS } from "./commands/index.js";
import { parseCommandArgs, type Command } from "./command.js";
import { OperatorError, UsageError, formatOperatorError } from "../core/errors.js";
import { WorkerRequestError } from "../control/client.js";

function groupHelp(prefix: string, commands: Command[], summary: string): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`);
  return `Usage: ${prefix} <command> [options]

${summary}

Commands:
${lines.join("\n")}

Every command takes --help (with examples) and read commands take --json.
Exit codes: 0 ok, 1 failed, 2 wrong usage.`;
}

const TOP_SUMMARY =
  "kuota: bandwidth accounting, quota enforcement and host capture for SSH and Xray accounts.";

/** Finds the command (walking subcommand groups) and the arguments left for it. */
function resolve(argv: string[]): {
  command: Command | null;
  rest: string[];
  path: string[];
  group: Command[];
} {
  let group = COMMANDS;
  const path: string[] = [];
  let command: Command | null = null;
  let i = 0;
  for (; i < argv.length; i++) {
    const found = group.find((c) => c.name === argv[i]);
    if (!found) break;
    command = found;
    path.push(found.name);
    if (!found.subcommands) {
      i++;
      break;
    }
    group = found.subcommands;
  }
  return { command, rest: argv.slice(i), path, group };
}

async function main(argv: string[]): Promise<number> {
  const out = (line: string) => process.stdout.write(line + "\n");
  const { command, rest, path, group } = resolve(argv);
  if (!command || command.subcommands) {
    const prefix = ["kuota", ...path].join(" ");
    const wanted = rest[0];
    if (wanted === undefined || wanted === "--help" || wanted === "-h" || wanted === "help") {
      out(groupHelp(prefix, group, command ? command.summary : TOP_SUMMARY));
      return wanted === undefined && command ? 2 : 0;
    }
    if (wanted === "--version") {
      out("kuota 0.1.0");
      return 0;
    }
    throw new UsageError(`unknown command "${wanted}"`, `see \`${prefix} --help\``);
  }
  const { values, positionals } = parseCommandArgs(command, rest);
  if (values.help) {
    out(command.help);
    return 0;
  }
  return command.run({ args: positionals, values, out });
}

// `kuota usage | head`, `kuota hosts --json | head` close the pipe early: stop quietly, as
// other tools do, instead of an EPIPE stack trace.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof OperatorError) {
      process.stderr.write(formatOperatorError(err) + "\n");
      process.exitCode = err.exitCode;
    } else if (err instanceof WorkerRequestError) {
      process.stderr.write(`kuota: ${err.message}${err.hint ? `; ${err.hint}` : ""}\n`);
      process.exitCode = err.status === 400 ? 2 : 1;
    } else {
      // A bug: keep the stack so it can be reported.
      process.stderr.write(`kuota: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
