/**
 * Decides whether the engine restarted between two polls. The engine's counters
 * start again at zero after a restart, so the collector must then count raw values
 * whole; guessing wrong either loses or doubles traffic.
 *
 * A counter going down is not a reliable signal (a fast user climbs past the old
 * value within one poll), so this uses GetSysStats' uptime (whole seconds):
 * - uptime lower than at the previous poll: restarted;
 * - uptime grew by clearly less than the time that passed (checked with the
 *   monotonic clock inside one worker process, with the wall clock across worker
 *   restarts and a wider margin): restarted while we were not looking;
 * - uptime read after the counters lower than before them: restarted during the
 *   poll, so the counters could belong to either engine. The poll is discarded
 *   and the next one counts as a restart.
 */
export type UptimeMark = { uptime: number; monoMs: number; wallMs: number };

/** Slack for whole-second uptime and call latency within one process (s). */
const SAME_PROCESS_SLACK_S = 2;
/** Slack across worker restarts, where only the wall clock links two polls (s). */
const ACROSS_RESTART_SLACK_S = 10;

export type RestartVerdict = "same" | "restarted" | "discard";

export class RestartDetector {
  private last: UptimeMark | null = null;
  private lastFromThisProcess = false;
  private pendingRestart = false;

  /** Seeds the detector from the state persisted by a previous worker process. */
  restore(mark: UptimeMark | null): void {
    this.last = mark;
    this.lastFromThisProcess = false;
  }

  /**
   * @param before uptime read before the counters
   * @param after uptime read after the counters
   */
  judge(before: UptimeMark, after: UptimeMark): RestartVerdict {
    if (after.uptime < before.uptime) {
      this.pendingRestart = true;
      this.accept(after);
      return "discard";
    }
    let restarted = this.pendingRestart;
    const last = this.last;
    if (last && !restarted) {
      if (before.uptime < last.uptime) restarted = true;
      else {
        const elapsedS = this.lastFromThisProcess
          ? (before.monoMs - last.monoMs) / 1000
          : (before.wallMs - last.wallMs) / 1000;
        const slack = this.lastFromThisProcess ? SAME_PROCESS_SLACK_S : ACROSS_RESTART_SLACK_S;
        if (before.uptime - last.uptime + slack < elapsedS) restarted = true;
      }
    }
    this.pendingRestart = false;
    this.accept(after);
    return restarted ? "restarted" : "same";
  }

  /** The mark to persist with the poll's counters. */
  get mark(): UptimeMark | null {
    return this.last;
  }

  private accept(mark: UptimeMark): void {
    this.last = mark;
    this.lastFromThisProcess = true;
  }
}
