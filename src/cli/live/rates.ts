/** Per-account transfer rates from successive usage totals. */

/** Bytes per second in each direction; null until two samples exist. */
export type Rate = { uploadPerS: number | null; downloadPerS: number | null };

/** One account's running totals (bytes) as the worker reported them. */
export type Totals = { name: string; uploadBytes: number; downloadBytes: number };

type Sample = { atMs: number; upload: number; download: number };

/** How far back a rate looks by default (ms): two of the worker's 1 s polls. */
export const DEFAULT_RATE_WINDOW_MS = 2000;

/**
 * Turns successive totals into rates averaged over a sliding window. The worker stores usage
 * once per poll (1 s by default), so totals move in steps; a window of at least two polls keeps
 * the rate steady when the screen refreshes every 100 ms. A total that went down (usage reset)
 * starts the account's history again.
 */
export class RateTracker {
  private readonly history = new Map<string, Sample[]>();

  /** @param windowMs how far back a rate looks (ms) */
  constructor(private readonly windowMs = DEFAULT_RATE_WINDOW_MS) {}

  /**
   * Records the totals read at `atMs` (ms, any monotonic clock) and returns every listed
   * account's rate. Accounts missing from `totals` are forgotten.
   */
  update(atMs: number, totals: readonly Totals[]): Map<string, Rate> {
    const rates = new Map<string, Rate>();
    const seen = new Set<string>();
    for (const t of totals) {
      seen.add(t.name);
      const sample = { atMs, upload: t.uploadBytes, download: t.downloadBytes };
      let samples = this.history.get(t.name);
      const last = samples?.[samples.length - 1];
      if (!samples || !last || sample.upload < last.upload || sample.download < last.download) {
        samples = [];
        this.history.set(t.name, samples);
      }
      samples.push(sample);
      // Keep the newest sample that is at least a window old, and everything after it.
      while (samples.length > 2 && atMs - (samples[1] as Sample).atMs >= this.windowMs) {
        samples.shift();
      }
      rates.set(t.name, rateOf(samples[0] as Sample, sample));
    }
    for (const name of this.history.keys()) if (!seen.has(name)) this.history.delete(name);
    return rates;
  }
}

function rateOf(from: Sample, to: Sample): Rate {
  const seconds = (to.atMs - from.atMs) / 1000;
  if (seconds <= 0) return { uploadPerS: null, downloadPerS: null };
  return {
    uploadPerS: (to.upload - from.upload) / seconds,
    downloadPerS: (to.download - from.download) / seconds,
  };
}
