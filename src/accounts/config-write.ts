/**
 * Puts an edited engine config in place so that the file on disk is always one the engine can
 * load: the new text is written next to the old file, checked by the engine itself, and only then
 * renamed over it. The previous file is kept as `<path>.kuota.bak`.
 */
import { constants } from "node:fs";
import { access, chown, copyFile, open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { execa } from "execa";
import { OperatorError } from "../core/errors.js";

/** Checks a config file and throws (with the engine's reason) when the engine would refuse it. */
export type ConfigValidator = (path: string) => Promise<void>;

/** The engine refused the edited config; the file on disk was left as it was. */
export class ConfigRejectedError extends OperatorError {
  override name = "ConfigRejectedError";
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(
      `the engine refuses the edited ${path}: ${reason}; the file was left unchanged`,
      "check that the current file loads (`xray -test -config FILE` or `v2ray -test -config FILE`)",
    );
  }
}

/**
 * Replaces `path` with `newText`: temp file in the same directory with the old file's mode and
 * owner, `validate` on the temp file, fsync, previous file copied to `<path>.kuota.bak`, rename,
 * fsync of the directory. On any failure the temp file is removed and `path` is untouched.
 * A new file (no previous one) gets mode 0644 and no backup.
 * @throws ConfigRejectedError when `validate` refuses the text
 */
export async function writeConfigAtomically(
  path: string,
  newText: string,
  validate: ConfigValidator,
): Promise<void> {
  const dir = dirname(path);
  const previous = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return null;
    throw err;
  });
  // A .json ending: Xray picks the config format by the file's extension.
  const temp = join(dir, `.${basename(path)}.kuota-${randomBytes(6).toString("hex")}.json`);
  try {
    const handle = await open(temp, "wx", previous ? previous.mode & 0o7777 : 0o644);
    try {
      await handle.writeFile(newText, "utf8");
      if (previous) await handle.chmod(previous.mode & 0o7777);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (previous && (previous.uid !== process.getuid?.() || previous.gid !== process.getgid?.())) {
      await chown(temp, previous.uid, previous.gid);
    }
    await validate(temp);
    if (previous) await backUp(path);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
}

async function backUp(path: string): Promise<void> {
  const backup = `${path}.kuota.bak`;
  await copyFile(path, backup);
  const handle = await open(backup, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A validator that runs the engine's own config test: `xray run -test -c FILE` when an Xray
 * binary is given or found, else `v2ray -test -config FILE` (V2Ray 4.x; exit 0 and
 * "Configuration OK." when the config loads, 2 for a decode error, 23 for a semantic one).
 * The test builds the whole server without listening: it reads certificates and opens the log
 * files the config names, so run it where the engine runs.
 * @param binary path of the engine binary; found on PATH (xray first) when omitted
 * @throws OperatorError from the returned function when no engine binary exists
 */
export function engineValidator(binary?: string): ConfigValidator {
  return async (path) => {
    const engine = binary ?? (await findEngine());
    const isXray = basename(engine).toLowerCase().includes("xray");
    const args = isXray ? ["run", "-test", "-c", path] : ["-test", "-config", path];
    const result = await execa(engine, args, { reject: false, all: true, timeout: 30_000 });
    if (result.exitCode === 0) return;
    throw new ConfigRejectedError(path, engineReason(result.all ?? "", result.exitCode));
  };
}

const ENGINE_CANDIDATES = [
  "/usr/local/bin/xray",
  "/usr/bin/xray",
  "/usr/local/bin/v2ray",
  "/usr/bin/v2ray",
];

async function findEngine(): Promise<string> {
  for (const candidate of ENGINE_CANDIDATES) {
    const found = await access(candidate, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (found) return candidate;
  }
  throw new OperatorError(
    "no xray or v2ray binary to test the edited config with",
    `install one of ${ENGINE_CANDIDATES.join(", ")} or set the engine path`,
  );
}

/** The line of the engine's output that says why, without Go's panic trace. */
function engineReason(output: string, exitCode: number | undefined): string {
  const lines = output.split("\n").map((line) => line.trim());
  const reason =
    lines.find((line) => line.startsWith("panic:")) ??
    lines.find((line) => /failed|invalid|unknown/i.test(line) && !line.startsWith("goroutine"));
  return (reason ?? `exit code ${exitCode ?? "unknown"}`).replace(/^panic:\s*/, "");
}
