/**
 * Times the cut of a hot Xray account so it lands as the quota runs out. It follows each hot
 * account's pace from its fast-poll readings. When the account will run out before the next fast
 * poll could see it, the cut starts early by the measured cut latency, not a poll interval late.
 *
 * Known shortcoming: a transfer that stops on its own within `rate × cut latency` of the limit
 * (~2.4 MB at 1 Gbit/s and 20 ms) cannot be told from one that goes on, and is cut that much
 * short of its quota. The enforcer re-reads the account just before a timed cut, which catches
 * transfers that already stopped.
 */

/** First guess of how long a fast cut takes to stop the bytes (ms); then measured. */
const INITIAL_CUT_LATENCY_MS = 12;

/** A hot account's last reading and its smoothed rate. */
type Pace = { used: number; atMs: number; bytesPerMs: number };

export class CutTiming {
  readonly #pace = new Map<string, Pace>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #latencyMs = INITIAL_CUT_LATENCY_MS;

  /**
   * @param fastPollMs the fast poll's interval: a crossing it would see in time needs no timer
   * @param startCut called when a timed cut is due
   */
  constructor(
    private readonly fastPollMs: number,
    private readonly startCut: (name: string) => void,
  ) {}

  /** Measured time from starting a fast cut to the known connections being gone (ms). */
  get latencyMs(): number {
    return this.#latencyMs;
  }

  /** A fast cut's measured latency, folded into the running estimate. */
  measured(latencyMs: number): void {
    this.#latencyMs = 0.7 * this.#latencyMs + 0.3 * latencyMs;
  }

  /**
   * A new reading of a hot account: its pace is updated and, when it runs out before the next
   * fast poll could see it, a timed cut is armed (once per account until it fires).
   */
  observe(name: string, usedBytes: number, limitBytes: number, nowMs = performance.now()): void {
    const prev = this.#pace.get(name);
    const sample = prev && nowMs > prev.atMs ? (usedBytes - prev.used) / (nowMs - prev.atMs) : 0;
    const bytesPerMs = prev ? 0.5 * prev.bytesPerMs + 0.5 * sample : 0;
    this.#pace.set(name, { used: usedBytes, atMs: nowMs, bytesPerMs });
    const remaining = limitBytes - usedBytes;
    if (remaining <= 0 || bytesPerMs <= 0 || this.#timers.has(name)) return;
    const startInMs = remaining / bytesPerMs - this.#latencyMs;
    // The next fast poll would see it in time: nothing to schedule.
    if (startInMs > this.fastPollMs * 2) return;
    const timer = setTimeout(
      () => {
        this.#timers.delete(name);
        this.startCut(name);
      },
      Math.max(0, startInMs),
    );
    this.#timers.set(name, timer);
  }

  /**
   * Bytes the account may still move, at its pace, by the time a cut started now lands and the
   * next fast poll could have seen it; 0 when its pace is unknown.
   */
  reach(name: string): number {
    const pace = this.#pace.get(name);
    return pace ? pace.bytesPerMs * (this.#latencyMs + this.fastPollMs) : 0;
  }

  /** No account is hot any more: paces are forgotten (armed cuts still fire). */
  forgetPaces(): void {
    this.#pace.clear();
  }

  /** Stops every armed cut (worker stopping). */
  stop(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
