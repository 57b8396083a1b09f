/**
 * `deleted.log` in the data folder: one line per deleted account, appended, for sellers' menu
 * scripts: `YYYY-MM-DD HH:MM:SS | PROTO | NAME | details` in the server's local time.
 */
import { appendFile, open } from "node:fs/promises";
import { localDateTime } from "../core/time.js";
import type { DeletedLogEntry } from "../control/api.js";
import type { Protocol } from "../store/store.js";

/** Longest details text kept on a line (characters); the rest is cut with "...". */
const MAX_DETAILS = 1000;

/** Text made safe for one field of the line: no `|`, no line breaks or other control characters. */
export function logField(text: string): string {
  return (
    text
      .replace(/\|/g, "/")
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ")
      .replace(/\s+/g, " ")
      .trim()
  );
}

/** The line (with its `\n`) recording the deletion of `name` at `at`. */
export function deletedLogLine(
  at: Date,
  protocol: Protocol,
  name: string,
  details: string,
): string {
  let text = logField(details);
  if (text.length > MAX_DETAILS) text = `${text.slice(0, MAX_DETAILS - 3)}...`;
  return `${localDateTime(at)} | ${protocol.toUpperCase()} | ${logField(name)} | ${text}\n`;
}

/** One line read back; null for lines not in the format (hand edits, older tools). */
export function parseDeletedLine(line: string): DeletedLogEntry | null {
  const parts = line.replace(/\r$/, "").split(" | ");
  if (parts.length < 4) return null;
  const [time, protocol, name, ...rest] = parts as [string, string, string, ...string[]];
  if (!/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(time)) return null;
  return { time, protocol, name, details: rest.join(" | ") };
}

/** Appends one line with a single write (O_APPEND), creating the file with mode 0644. */
export async function appendDeletedLog(path: string, line: string): Promise<void> {
  await appendFile(path, line, { encoding: "utf8", mode: 0o644 });
}

/** Bytes read from the end of the file to find the latest entries. */
const TAIL_BYTES = 1024 * 1024;

/** The latest `limit` entries, newest first; a missing file has none. */
export async function readDeletedLog(path: string, limit: number): Promise<DeletedLogEntry[]> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - TAIL_BYTES);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const lines = buffer.toString("utf8").split("\n");
    if (start > 0) lines.shift(); // the first line is cut
    const entries: DeletedLogEntry[] = [];
    for (let i = lines.length - 1; i >= 0 && entries.length < limit; i--) {
      const entry = parseDeletedLine(lines[i] ?? "");
      if (entry) entries.push(entry);
    }
    return entries;
  } finally {
    await handle.close();
  }
}
