import type { Logger } from "../core/log.js";

/**
 * Longest single timer (ms). A further date is reached in steps: Node cannot time more than
 * ~24.8 days in one timer (it fires at once instead), and a step notices a wall-clock change.
 */
export const EXPIRY_WAIT_MAX_MS = 60_000;

export type ExpiryAlarmOptions = {
  /** The accounts to watch, read at every arming. */
  accounts: () => Iterable<{ name: string; expiresAt: string | null }>;
  /** Runs when the nearest date is reached; the alarm re-arms after it settles. */
  onDue: () => Promise<unknown>;
  log: Logger;
  maxWaitMs?: number;
};

/**
 * One timer at the nearest future expiry date of the watched accounts, instead of checking
 * dates on an interval: an expired account is cut on its date, and nothing runs meanwhile.
 */
export class ExpiryAlarm {
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(private readonly o: ExpiryAlarmOptions) {}

  /** Sets the timer for the nearest date still ahead (dates passed were swept already). */
  arm(): void {
    this.#clear();
    if (this.#stopped) return;
    const now = Date.now();
    let next = Infinity;
    let user = "";
    for (const a of this.o.accounts()) {
      const at = a.expiresAt === null ? NaN : Date.parse(a.expiresAt);
      if (at > now && at < next) [next, user] = [at, a.name];
    }
    if (next === Infinity) return;
    this.o.log.debug({ user, waitMs: next - now }, "next expiry timer set");
    this.#wait(next);
  }

  stop(): void {
    this.#stopped = true;
    this.#clear();
  }

  /**
   * A timer can fire a few ms before Date.now() reaches its date (Node measures it from the
   * event loop's cached clock). Due then, the account is not expired yet; re-armed a moment
   * later, its date has passed and is no longer ahead: it would wait for the next re-arm, a
   * minute. So the alarm waits until the wall clock has reached the date.
   */
  #wait(next: number): void {
    const left = next - Date.now();
    if (left > 0) {
      this.#timer = setTimeout(
        () => this.#wait(next),
        Math.min(left, this.o.maxWaitMs ?? EXPIRY_WAIT_MAX_MS),
      );
      this.#timer.unref();
      return;
    }
    this.#timer = null;
    void this.o
      .onDue()
      .catch((err: unknown) => this.o.log.error({ err }, "expiry sweep failed"))
      .then(() => this.arm());
  }

  #clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
