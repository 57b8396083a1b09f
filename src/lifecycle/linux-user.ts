/**
 * The Linux side of an SSH account: a user with a shell that cannot log in, its password, expiry,
 * crontab and home. kuota changes only users it may manage (see `unmanagedReason`).
 */
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CommandFailedError, OperatorError } from "../core/errors.js";
import {
  MAX_ACCOUNT_UID,
  MIN_ACCOUNT_UID,
  NON_LOGIN_SHELLS,
  parsePasswd,
  type PasswdEntry,
} from "../collect/discovery/passwd.js";
import { firstLine, run, runWithPasswdLock } from "./run.js";

/** Shell of accounts kuota creates: SSH tunnels work, a terminal does not. */
export const ACCOUNT_SHELL = "/bin/false";

/** uid of `nobody`. */
const NOBODY_UID = 65534;

/** The passwd entry of `name` in `path`, or null. */
export async function passwdEntry(name: string, path = "/etc/passwd"): Promise<PasswdEntry | null> {
  const text = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return "";
    throw err;
  });
  return parsePasswd(text).find((e) => e.name === name) ?? null;
}

/**
 * Why kuota must not touch this Linux user, in one line; null when it may (uid 1000–59999 and a
 * shell that cannot log in, the accounts sellers make for tunnels).
 */
export function unmanagedReason(entry: PasswdEntry): string | null {
  if (entry.uid === 0) return `${entry.name} is the superuser (uid 0)`;
  if (entry.uid === NOBODY_UID)
    return `${entry.name} is the system's nobody user (uid ${NOBODY_UID})`;
  if (entry.uid < MIN_ACCOUNT_UID)
    return `${entry.name} is a system user (uid ${entry.uid} < 1000)`;
  if (entry.uid > MAX_ACCOUNT_UID) return `${entry.name} has uid ${entry.uid}, above 59999`;
  if (!NON_LOGIN_SHELLS.has(entry.shell)) {
    return `${entry.name} has the login shell ${entry.shell || "(empty)"}, so it is a person's login, not an SSH account`;
  }
  return null;
}

/** Whether `shell` is listed in /etc/shells (Dropbear refuses accounts whose shell is not). */
export async function shellListed(shell: string, path = "/etc/shells"): Promise<boolean> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text.split("\n").some((line) => line.trim() === shell);
}

/**
 * Creates the user with a home, the no-login shell, the password (through chpasswd's stdin) and,
 * when given, the expiry date (`chage -E`, local date YYYY-MM-DD: the first day it cannot log in).
 * A user made here is removed again if a later step fails.
 * @throws OperatorError when useradd refuses (the name or its group exists) or the uid is < 1000
 */
export async function addLinuxUser(
  name: string,
  password: string,
  expiryDate: string | null,
): Promise<{ uid: number; home: string }> {
  const added = await runWithPasswdLock("useradd", [
    "-m",
    "-s",
    ACCOUNT_SHELL,
    "-c",
    "kuota account",
    "--",
    name,
  ]);
  if (added.exitCode !== 0) {
    throw new OperatorError(`useradd refused ${name}: ${firstLine(added)}`, "choose another name");
  }
  try {
    const entry = await passwdEntry(name);
    if (!entry)
      throw new CommandFailedError("useradd", `${name} is not in /etc/passwd after useradd`);
    const problem = unmanagedReason(entry);
    if (problem) {
      throw new OperatorError(
        `useradd gave ${name} uid ${entry.uid}: ${problem}`,
        "set UID_MIN 1000 in /etc/login.defs",
      );
    }
    const pw = await runWithPasswdLock("chpasswd", [], { input: `${name}:${password}\n` });
    if (pw.exitCode !== 0) throw new CommandFailedError("chpasswd", firstLine(pw));
    if (expiryDate !== null) {
      const expiry = await runWithPasswdLock("chage", ["-E", expiryDate, "--", name]);
      if (expiry.exitCode !== 0) throw new CommandFailedError("chage", firstLine(expiry));
    }
    return { uid: entry.uid, home: entry.home };
  } catch (err) {
    await runWithPasswdLock("userdel", ["-r", "--", name]).catch(() => undefined);
    throw err;
  }
}

/**
 * `userdel -r`: the user, its group, home (with ~/.ssh) and mail spool. A missing mail spool or
 * home is fine; a user already gone is fine. Retried for up to ~2 s while the kernel is still
 * reaping the user's killed processes.
 * @returns what happened, for the deletion report
 * @throws CommandFailedError when userdel still refuses
 */
export async function deleteLinuxUser(name: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const result = await runWithPasswdLock("userdel", ["-r", "--", name]);
    if (result.exitCode === 0) return "user, group and home removed";
    if (result.exitCode === 6) return "no such Linux user (already removed)";
    // 12: the home could not be removed; "not found" means there was none
    if (result.exitCode === 12 && /not found/.test(result.stderr)) {
      return "user and group removed (it had no home)";
    }
    if (result.exitCode === 8 && attempt < 20) {
      await run("pkill", ["-KILL", "-u", name]).catch(() => undefined);
      await sleep(100);
      continue;
    }
    throw new CommandFailedError("userdel", firstLine(result));
  }
}

/** Where Debian's cron keeps per-user crontabs. */
const CRONTAB_SPOOL = "/var/spool/cron/crontabs";

/** `crontab -r -u NAME`; none is fine. After userdel crontab cannot name the user: the spool file goes. */
export async function removeCrontab(name: string): Promise<string> {
  const result = await run("crontab", ["-r", "-u", name]).catch((err: unknown) => {
    if (err instanceof OperatorError) return null; // no cron installed: no crontab either
    throw err;
  });
  if (result === null) return "cron is not installed";
  if (result.exitCode === 0) return "crontab removed";
  if (/no crontab/i.test(result.stderr)) return "no crontab";
  if (/unknown/i.test(result.stderr)) {
    await rm(join(CRONTAB_SPOOL, name), { force: true });
    return "no crontab";
  }
  throw new CommandFailedError("crontab", firstLine(result));
}

/** SIGKILL to every process of the user (`pkill -KILL -u`). Resolves how many were running. */
export async function killUserProcesses(name: string): Promise<boolean> {
  const result = await run("pkill", ["-KILL", "-u", name]);
  if (result.exitCode === 0) return true;
  if (result.exitCode === 1) return false;
  // pkill: invalid user name (already deleted): nothing can run as it by name
  if (/invalid user/i.test(result.stderr)) return false;
  throw new CommandFailedError("pkill", firstLine(result));
}
