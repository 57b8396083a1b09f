import { existsSync } from "node:fs";

/**
 * A stream of log lines that may hold the SSH daemons' login lines: a log file or the journal.
 * Lines are delivered in order, one batch at a time; the read position after a batch is stored
 * once its handler resolves, so a restart neither misses nor re-reads a line (a crash between the
 * two re-reads one batch, which is harmless: mapping a session twice maps it once).
 */
export interface LoginSource {
  /** `journal` or the file's path, for logs and status. */
  readonly name: string;
  /** Why the source delivers nothing right now (file missing, journalctl failed), or null. */
  readonly problem: string | null;
  /** Starts reading; resolves once the first read is under way. */
  start(onLines: (lines: string[]) => Promise<void>): Promise<void>;
  /** Stops reading and waits for a batch in flight. */
  stop(): Promise<void>;
}

/** Where journald keeps its sockets; present whenever it runs. */
const JOURNALD_RUNTIME = "/run/systemd/journal";

/** Debian's and Ubuntu's syslog file for sshd and Dropbear (rsyslog's auth facility). */
export const DEFAULT_AUTH_LOG = "/var/log/auth.log";

/**
 * The sources `SSH_AUTH_LOG` names: `auto` is the journal when journald runs, else
 * /var/log/auth.log. `exists` is replaceable in tests.
 */
export function resolveAuthLog(
  setting: "auto" | readonly string[],
  exists: (path: string) => boolean = existsSync,
): string[] {
  if (setting !== "auto") return [...setting];
  return [exists(JOURNALD_RUNTIME) ? "journal" : DEFAULT_AUTH_LOG];
}
