import {
  openSync,
  writeSync,
  fsyncSync,
  closeSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, basename, join } from "node:path";

const tmpName = (path: string) => join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);

/**
 * Writes a file so that readers see the old content or the new, never a part:
 * temp file in the same folder, fsync, rename. For files that are the only copy
 * of what they hold (logs are appended instead; configs use config-write.ts).
 */
export function writeFileAtomic(path: string, content: string, mode = 0o644): void {
  const tmp = tmpName(path);
  const fd = openSync(tmp, "w", mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // the temp file is already gone; the rename error is what matters
    }
    throw err;
  }
}

/**
 * The same guarantee for readers (whole old or whole new file), without fsync.
 * For files derived from the store, which the worker rewrites at every start, so
 * a power cut may leave an old copy but never a torn one. Synchronous on purpose:
 * measured here, a write+rename costs ~34 µs of CPU this way and ~160 µs through
 * fs/promises; callers keep the event loop free by writing in small slices.
 */
export function replaceFile(path: string, content: string, mode = 0o644): void {
  const tmp = tmpName(path);
  writeFileSync(tmp, content, { mode });
  try {
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw err;
  }
}
