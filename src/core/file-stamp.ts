import { stat } from "node:fs/promises";

/**
 * Tells whether a file changed since it was last looked at (inode, size, mtime),
 * so periodic re-reads of a large engine config or /etc/passwd cost one stat
 * when nothing changed.
 */
export class FileStamp {
  private last: string | null = null;

  /** True when the file differs from the previous call (or on the first call, or when unreadable). */
  async changed(path: string): Promise<boolean> {
    let now: string;
    try {
      const s = await stat(path);
      now = `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      now = "missing";
    }
    if (now === this.last && now !== "missing") return false;
    this.last = now;
    return true;
  }
}
