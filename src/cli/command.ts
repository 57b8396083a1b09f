import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../core/errors.js";

export type Options = NonNullable<ParseArgsConfig["options"]>;

/** What every command receives. */
export type CommandContext = {
  /** Positional arguments after the command (and subcommand) name. */
  args: string[];
  /** Parsed options. */
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  /** Writes a line to stdout. */
  out: (line: string) => void;
};

/**
 * One `kuota` command. `help` is printed by `--help`: usage line, what it does,
 * options, and examples sellers can paste into their menus.
 */
export type Command = {
  name: string;
  summary: string;
  help: string;
  options?: Options;
  /** A group (e.g. `account`) dispatches to these; its own `run` is not used. */
  subcommands?: Command[];
  /** Resolves to the exit code (0 ok, 1 failed). */
  run(ctx: CommandContext): Promise<number>;
};

/** Options every command accepts. */
export const COMMON_OPTIONS: Options = {
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
  "log-level": { type: "string" },
};

/** Parses a command's arguments; unknown options are a usage error (exit 2). */
export function parseCommandArgs(command: Command, argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: { ...COMMON_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message, `see \`kuota ${command.name} --help\``);
  }
}
