import { createInterface } from "node:readline";
import { execa, type ResultPromise } from "execa";
import type { Logger } from "../../core/log.js";
import type { Store } from "../../store/store.js";
import type { LoginSource } from "./login-source.js";

export interface JournalFollowerOptions {
  store: Pick<Store, "getState" | "setState">;
  /** Keeps the cursor of the last delivered record. */
  stateKey: string;
  log: Logger;
  /** The journalctl binary. Default `journalctl` from PATH. */
  binary?: string;
  /** Wait before starting journalctl again after it ended (ms). Default 5,000. */
  restartMs?: number;
}

/** The daemons whose records are read; `sshd-session` is OpenSSH 9.8+'s per-connection process. */
const IDENTIFIERS = ["sshd", "sshd-session", "dropbear"];

/**
 * Follows journald with `journalctl -f -o json`, matching the daemons by SYSLOG_IDENTIFIER (so a
 * Dropbear started from any unit or script is seen, not only `dropbear.service`). The cursor of the
 * last delivered record is stored after each batch and passed back with `--after-cursor` when
 * journalctl starts again; with no cursor (first start) the current boot is read.
 *
 * Only records journald attributes to uid 0 pass: both daemons log as root, while `logger -t sshd`
 * run by another local user carries that user's `_UID`, which journald sets and the sender
 * cannot forge.
 */
export class JournalFollower implements LoginSource {
  readonly name = "journal";
  #problem: string | null = null;
  readonly #opts: JournalFollowerOptions;
  #child: ResultPromise | null = null;
  #queue: string[] = [];
  #draining: Promise<void> | null = null;
  #onLines: (lines: string[]) => Promise<void> = async () => undefined;
  #restart: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(options: JournalFollowerOptions) {
    this.#opts = options;
  }

  get problem(): string | null {
    return this.#problem;
  }

  async start(onLines: (lines: string[]) => Promise<void>): Promise<void> {
    this.#onLines = onLines;
    await this.#spawn();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#restart) clearTimeout(this.#restart);
    this.#child?.kill("SIGTERM");
    await this.#child;
    await this.#draining;
  }

  async #spawn(): Promise<void> {
    const cursor = await this.#opts.store.getState(this.#opts.stateKey);
    const args = ["-f", "--no-tail", "-o", "json", "--no-pager", "-q"];
    args.push(...(cursor === null ? ["-b"] : ["--after-cursor", cursor]));
    args.push(...IDENTIFIERS.map((id) => `SYSLOG_IDENTIFIER=${id}`));
    const child = execa(this.#opts.binary ?? "journalctl", args, {
      buffer: false,
      reject: false,
      stdin: "ignore",
      stderr: "pipe",
      cleanup: true,
    });
    this.#child = child;
    let stderr = "";
    child.stderr?.on("data", (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      this.#queue.push(line);
      this.#drain();
    });
    void child.then((result) => {
      if (this.#stopped) return;
      const missing = (result as { code?: unknown }).code === "ENOENT";
      this.#problem = missing
        ? "journalctl is not installed"
        : `journalctl ended (${result.exitCode ?? result.signal ?? "?"}): ${stderr.trim() || "no message"}`;
      this.#opts.log.warn(
        { retryMs: this.#opts.restartMs ?? 5000 },
        `${this.#problem}; ${missing ? "set SSH_AUTH_LOG to the daemons' log file" : "starting it again"}`,
      );
      this.#restart = setTimeout(() => void this.#spawn(), this.#opts.restartMs ?? 5000);
    });
    this.#problem = null;
  }

  /** Hands queued records over in batches, one batch at a time, then stores the cursor. */
  #drain(): void {
    if (this.#draining) return;
    this.#draining = (async () => {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0);
        const { lines, cursor } = fromRoot(batch);
        try {
          if (lines.length > 0) await this.#onLines(lines);
        } catch (err) {
          this.#opts.log.error({ err, lines: lines.length }, "login lines skipped");
        }
        if (cursor !== null) await this.#opts.store.setState(this.#opts.stateKey, cursor);
      }
    })().finally(() => (this.#draining = null));
  }
}

/** The records logged by uid 0, and the cursor of the last record of the batch. */
export function fromRoot(records: readonly string[]): { lines: string[]; cursor: string | null } {
  const lines: string[] = [];
  let cursor: string | null = null;
  for (const text of records) {
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch {
      continue;
    }
    if (typeof record !== "object" || record === null) continue;
    const fields = record as Record<string, unknown>;
    if (typeof fields["__CURSOR"] === "string") cursor = fields["__CURSOR"];
    if (fields["_UID"] === "0") lines.push(text);
  }
  return { lines, cursor };
}
