/**
 * Jobs in /etc/cron.d that run as a deleted account. A cron.d line names the user it runs as in
 * its sixth field (`m h dom mon dow USER command`), or the second after an `@reboot`-style
 * keyword. Only lines whose user field is exactly the account go; every other line (comments,
 * `VAR=value` lines, other users' jobs, a job that merely mentions the name in its command) is
 * kept byte for byte.
 */
import { lstat, open, readFile, readdir, rename, unlink, chown } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

/** Default folder of system crontab fragments. */
export const CRON_D = "/etc/cron.d";

/** The user field of a cron.d job line, or null for comments, blank and `VAR=value` lines. */
export function cronLineUser(line: string): string | null {
  const text = line.trim();
  if (text === "" || text.startsWith("#")) return null;
  if (/^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(text)) return null;
  const fields = text.split(/\s+/);
  const userField = text.startsWith("@") ? 1 : 5;
  return fields[userField] ?? null;
}

/**
 * The text without the job lines that run as `user`.
 * @returns the new text (identical to `text` when nothing matched) and the removed lines
 */
export function withoutUserJobs(text: string, user: string): { text: string; removed: string[] } {
  const removed: string[] = [];
  // Split keeping each line's own terminator, so kept lines stay byte-identical.
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const kept: string[] = [];
  for (const line of lines) {
    if (cronLineUser(line.replace(/\r?\n$/, "")) === user) removed.push(line.trimEnd());
    else kept.push(line);
  }
  return { text: removed.length === 0 ? text : kept.join(""), removed };
}

/** What was removed from one file. */
export type CronDRemoval = { file: string; lines: number };

/**
 * Removes `user`'s job lines from every regular file in `dir` (symlinks and dot files are left
 * alone; cron ignores dot files). Each changed file is replaced atomically with its mode and owner
 * kept. A missing folder means nothing to do.
 */
export async function removeCronDJobs(user: string, dir = CRON_D): Promise<CronDRemoval[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const removals: CronDRemoval[] = [];
  for (const name of names.sort()) {
    if (name.startsWith(".")) continue;
    const path = join(dir, name);
    const info = await lstat(path);
    if (!info.isFile()) continue;
    const text = await readFile(path, "utf8");
    const edit = withoutUserJobs(text, user);
    if (edit.removed.length === 0) continue;
    await replaceFile(path, edit.text, info.mode & 0o7777, info.uid, info.gid);
    removals.push({ file: path, lines: edit.removed.length });
  }
  return removals;
}

async function replaceFile(
  path: string,
  text: string,
  mode: number,
  uid: number,
  gid: number,
): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  const temp = join(dir, `.kuota-${randomBytes(6).toString("hex")}`);
  try {
    const handle = await open(temp, "wx", mode);
    try {
      await handle.writeFile(text, "utf8");
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chown(temp, uid, gid);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}
