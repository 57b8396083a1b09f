/** Runs the system commands of the account lifecycle: argument vectors only, never a shell. */
import { execa, ExecaError } from "execa";
import { setTimeout as sleep } from "node:timers/promises";
import { CommandFailedError, OperatorError } from "../core/errors.js";

export type RunResult = { exitCode: number; stdout: string; stderr: string };

/**
 * Runs `command` and resolves whatever its exit code; rejects only when it cannot run.
 * @param input written to its stdin (passwords go here, never in argv)
 * @throws OperatorError when the command is not installed
 */
export async function run(
  command: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  try {
    const result = await execa(command, args, {
      input: options.input ?? "",
      reject: false,
      timeout: options.timeoutMs ?? 15_000,
      stripFinalNewline: true,
      env: { LC_ALL: "C" },
    });
    if (result.failed && result.exitCode === undefined) throw result;
    return {
      exitCode: result.exitCode ?? 1,
      stdout: String(result.stdout),
      stderr: String(result.stderr),
    };
  } catch (err) {
    if (err instanceof ExecaError && err.code === "ENOENT") {
      throw new OperatorError(`${command} is not installed or not in PATH`, installHint(command));
    }
    const message = err instanceof ExecaError ? err.shortMessage : String(err);
    throw new CommandFailedError(command, message, { cause: err });
  }
}

/**
 * Like `run`, retried while another process holds the passwd/shadow lock (useradd, userdel and
 * chpasswd fail at once instead of waiting).
 */
export async function runWithPasswdLock(
  command: string,
  args: readonly string[],
  options: { input?: string } = {},
): Promise<RunResult> {
  for (let attempt = 1; ; attempt++) {
    const result = await run(command, args, options);
    if (result.exitCode === 0 || attempt >= 20 || !/lock|try again/i.test(result.stderr)) {
      return result;
    }
    await sleep(50 * attempt);
  }
}

/** The first line of a command's complaint, for reports. */
export function firstLine(result: RunResult): string {
  const line = (result.stderr || result.stdout).split("\n").find((l) => l.trim() !== "");
  return (line ?? `exit code ${result.exitCode}`).trim();
}

function installHint(command: string): string {
  const packages: Record<string, string> = {
    useradd: "passwd",
    userdel: "passwd",
    chpasswd: "passwd",
    chage: "passwd",
    usermod: "passwd",
    crontab: "cron",
    pkill: "procps",
    ss: "iproute2",
  };
  const pkg = packages[command];
  return pkg ? `install ${pkg} (\`apt-get install ${pkg}\`)` : `install ${command}`;
}
