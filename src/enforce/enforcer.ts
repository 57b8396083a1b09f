import { hotAccounts, mbpsToBytesPerSecond, type HeadroomPolicy } from "./headroom.js";
import { ApiError } from "../control/api-error.js";
import { EngineUnreachableError, OperatorError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import type { Router } from "../control/router.js";
import type { WorkerComponent } from "../worker/component.js";
import type { WorkerContext } from "../worker/worker.js";
import type { AccountWithUsage, Store, Usage } from "../store/store.js";
import type { XrayCollector } from "../collect/xray/xray-collector.js";
import type { DeletionReport } from "../control/api.js";
import { cutXrayNow, readCutPlan, type CutPlan } from "./xray-fast-cut.js";
import { AccessTail } from "./access-tail.js";
import { CutTiming } from "./cut-timing.js";
import { FileStamp } from "../core/file-stamp.js";
import { ExpiryAlarm } from "./expiry-alarm.js";
import { KERNEL_QUOTA_SLACK, usedBytes as used, verdict, type CutTrigger } from "./verdict.js";

export type { CutTrigger } from "./verdict.js";

/** How an account is cut: the lifecycle's delete (or lock), run in-process. */
export type CutAccount = (name: string, reason: string) => Promise<DeletionReport>;

/** What `kuota check` and the enforcer did to one account. */
export type EnforcementAction = {
  account: string;
  protocol: string;
  reason: string;
  /**
   * "deleted" / "locked" (KUOTA_ON_LIMIT): every step ran; "partial": some failed (retried later);
   * "skipped": no longer due, or locked already.
   */
  outcome: "deleted" | "locked" | "partial" | "skipped" | "failed";
  detail?: string;
};

/** Spacing of retries after a failed cut (ms), so a broken step never becomes a busy loop. */
const RETRY_MS = [1000, 5000, 30_000, 120_000];
/**
 * How often limits, usage and expiry dates are re-read from the store anyway (ms). Usage
 * arrives with every poll, a cut always re-reads the account first, and every change of
 * accounts (created, limit changed, adopted, gone from the server) asks for a refresh, so
 * this is only a safety net: listing 1,000 accounts costs ~8 ms of CPU.
 */
const REFRESH_MS = 60_000;
/** Delay of the refresh after a limit change (ms): a burst of changes costs one. */
const REFRESH_DEBOUNCE_MS = 50;

const XRAY = new Set(["vmess", "vless", "trojan", "shadowsocks"]);

/**
 * Quota and expiry enforcement. Usage changes reported by the collectors are
 * checked against each account's limit at once; Xray accounts close to their
 * limit are read on their own every KUOTA_FAST_POLL_MS (the headroom schedule),
 * the rest wait for the regular poll. SSH accounts are cut in the kernel by
 * their nft quota and reported here by the SSH collector.
 */
export class Enforcer implements WorkerComponent {
  readonly name = "enforce";
  private readonly log: Logger;
  private readonly store: Store;
  private readonly xray: XrayCollector;
  private readonly policy: HeadroomPolicy;
  private limited = new Map<string, AccountWithUsage>();
  private hot: string[] = [];
  private readonly inFlight = new Map<string, Promise<EnforcementAction>>();
  private readonly failures = new Map<string, { attempts: number; nextAt: number }>();
  private refreshTimer: NodeJS.Timeout | null = null;
  private fastTimer: NodeJS.Timeout | null = null;
  private fastRunning = false;
  private engineDownLogged = false;
  private stopped = false;
  private cuts = 0;
  private plan: CutPlan | null = null;
  private readonly configStamp = new FileStamp();
  private soonTimer: NodeJS.Timeout | null = null;
  /** The refresh running or queued last: refreshes run one after another (see `refresh`). */
  private refreshChain: Promise<void> = Promise.resolve();
  /** Sweeps at the nearest expiry date of a limited account. */
  private readonly expiry: ExpiryAlarm;
  /** The access log, followed while accounts are hot: their connections, ready for a cut. */
  private tail: AccessTail | null = null;
  private readonly timing: CutTiming;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly cut: CutAccount,
  ) {
    this.log = ctx.log.child({ component: "enforce" });
    this.store = ctx.store;
    this.xray = ctx.xray;
    this.policy = {
      linkBytesPerSecond: mbpsToBytesPerSecond(ctx.config.linkMbps),
      pollMs: ctx.config.pollMs,
    };
    this.timing = new CutTiming(ctx.config.fastPollMs, (name) => void this.enforce(name, "timed"));
    this.expiry = new ExpiryAlarm({
      accounts: () => this.limited.values(),
      onDue: () => this.sweep(),
      log: this.log,
    });
  }

  async start(): Promise<void> {
    this.ctx.usageListeners.push((changed) => this.onUsage(changed));
    this.ctx.accountListeners.push(() => this.refreshSoon());
    await this.refresh();
    // Accounts already over their limit (a limit lowered while kuota was down).
    await this.sweep();
    const every = Math.max(this.ctx.config.pollMs, REFRESH_MS);
    this.refreshTimer = setInterval(() => void this.refresh().then(() => this.sweep()), every);
    this.refreshTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.soonTimer) clearTimeout(this.soonTimer);
    this.expiry.stop();
    if (this.fastTimer) clearTimeout(this.fastTimer);
    this.timing.stop();
    await Promise.allSettled([...this.inFlight.values()]);
  }

  status() {
    return {
      limited: this.limited.size,
      hot: this.hot.length,
      cuts: this.cuts,
      onLimit: this.ctx.config.onLimit,
    };
  }

  routes(router: Router): void {
    router.post("/v1/check", async () => {
      const polled: string[] = [];
      try {
        await this.xray.pollOnce();
        polled.push("xray");
      } catch (err) {
        polled.push(`xray: ${(err as Error).message}`);
      }
      await this.refresh();
      return { polled, actions: await this.sweep() };
    });
  }

  /** A refresh shortly after a burst of limit changes (a menu setting 1,000 limits), not one each. */
  private refreshSoon(): void {
    if (this.soonTimer) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = null;
      void this.refresh().then(() => this.sweep());
    }, REFRESH_DEBOUNCE_MS);
  }

  /**
   * Re-reads limits, usage and expiry; recomputes which Xray accounts are hot. Refreshes run one
   * at a time, in the order asked: run side by side, a slow one that read the accounts first
   * could finish last and put back what a newer one had replaced (an expiry date just set, and
   * its timer, lost until the next minute's refresh).
   */
  refresh(): Promise<void> {
    const run = this.refreshChain.then(() => this.refreshNow());
    this.refreshChain = run.catch(() => undefined);
    return run;
  }

  private async refreshNow(): Promise<void> {
    const all = await this.store.listAccounts();
    // A locked account was cut already; it comes back here once unlocked.
    this.limited = new Map(
      all
        .filter((a) => (a.limitBytes !== null || a.expiresAt !== null) && a.state !== "locked")
        .map((a) => [a.name, a]),
    );
    // Inbounds and the access log path, read ahead of any cut (kept when unreadable).
    if (await this.configStamp.changed(this.ctx.config.xrayConfig)) {
      this.plan = await readCutPlan(
        this.ctx.config.xrayConfig,
        this.ctx.config.xrayAccessLog,
      ).catch(() => this.plan);
    }
    this.recomputeHot();
    this.expiry.arm();
  }

  private recomputeHot(): void {
    const candidates = [...this.limited.values()]
      .filter((a) => a.limitBytes !== null && XRAY.has(a.protocol) && a.present)
      .map((a) => ({ name: a.name, limitBytes: a.limitBytes as number, usedBytes: used(a.usage) }));
    const hot = hotAccounts(candidates, this.policy).filter((n) => !this.inFlight.has(n));
    const changed = hot.length !== this.hot.length || hot.some((n, i) => n !== this.hot[i]);
    this.hot = hot;
    if (changed) this.log.debug({ users: hot.slice(0, 20), count: hot.length }, "hot accounts");
    if (hot.length > 0) this.scheduleFast();
    if (hot.length > 0 && !this.tail && this.plan) {
      this.tail = new AccessTail(this.plan.accessLog);
      void this.tail.step();
    } else if (hot.length === 0 && this.tail && this.inFlight.size === 0) {
      this.tail = null;
      this.timing.forgetPaces();
    }
  }

  /** A hot Xray account's new reading: its pace may call for a cut timed to land at the limit. */
  private track(a: AccountWithUsage): void {
    if (a.limitBytes === null || !XRAY.has(a.protocol) || !this.hot.includes(a.name)) return;
    this.timing.observe(a.name, used(a.usage), a.limitBytes);
  }

  private scheduleFast(): void {
    if (this.fastTimer || this.fastRunning || this.stopped) return;
    this.fastTimer = setTimeout(() => void this.fastPoll(), this.ctx.config.fastPollMs);
  }

  /** Reads the hot accounts on their own; usage changes come back through onUsage. */
  private async fastPoll(): Promise<void> {
    this.fastTimer = null;
    if (this.hot.length === 0 || this.stopped) return;
    this.fastRunning = true;
    try {
      await Promise.all([this.xray.pollAccounts(this.hot), this.tail?.step()]);
      this.engineDownLogged = false;
    } catch (err) {
      if (!(err instanceof EngineUnreachableError)) {
        this.log.error({ err }, "fast poll failed");
      } else if (!this.engineDownLogged) {
        this.engineDownLogged = true;
        this.log.warn({ err: err.message }, "engine unreachable for fast polls");
      }
    } finally {
      this.fastRunning = false;
    }
    this.scheduleFast();
  }

  /** Usage moved: cut what is over, keep the hot set current. */
  private onUsage(changed: Usage[]): void {
    let touched = false;
    for (const u of changed) {
      const a = this.limited.get(u.name);
      if (!a) continue;
      a.usage = u;
      touched = true;
      if (a.limitBytes !== null && used(u) >= a.limitBytes) void this.enforce(a.name);
      else this.track(a);
    }
    if (touched) this.recomputeHot();
  }

  /** Checks every limited account once (limit and expiry). */
  async sweep(): Promise<EnforcementAction[]> {
    const now = Date.now();
    const due = [...this.limited.values()].filter((a) => verdict(a, now) !== null);
    return Promise.all(due.map((a) => this.enforce(a.name)));
  }

  /**
   * Cuts one account if it is still due: the store is read again first, so a limit
   * raised a moment ago, or an account deleted by hand, is respected.
   */
  enforce(name: string, trigger: CutTrigger = "usage"): Promise<EnforcementAction> {
    const running = this.inFlight.get(name);
    if (running) return running;
    const failure = this.failures.get(name);
    if (failure && Date.now() < failure.nextAt) {
      return Promise.resolve({
        account: name,
        protocol: "?",
        reason: "waiting to retry",
        outcome: "skipped",
      });
    }
    const run = this.enforceNow(name, trigger).finally(() => {
      this.inFlight.delete(name);
      this.recomputeHot();
    });
    this.inFlight.set(name, run);
    return run;
  }

  /**
   * @param trigger "timed": started by `track` ahead of the crossing, due if, at its pace, the
   *   account reaches its limit within the cut latency; "kernel-quota": due while the account
   *   still has a limit its stored usage is within one packet (64 KiB) of
   */
  private async enforceNow(name: string, trigger: CutTrigger): Promise<EnforcementAction> {
    const timed = trigger === "timed";
    // A timed cut reads the account once more first: a transfer that stopped since
    // the last poll must not be cut short of its quota.
    if (timed) await this.xray.pollAccounts([name]).catch(() => undefined);
    const account = await this.store.getAccount(name);
    if (!account) {
      this.limited.delete(name);
      return { account: name, protocol: "?", reason: "gone", outcome: "skipped" };
    }
    if (account.state === "locked") {
      this.limited.delete(name);
      return { account: name, protocol: account.protocol, reason: "locked", outcome: "skipped" };
    }
    const reach =
      trigger === "kernel-quota" ? KERNEL_QUOTA_SLACK : timed ? this.timing.reach(name) : 0;
    const due = verdict(account, Date.now(), trigger, reach);
    if (due === null) {
      this.limited.set(name, account);
      return {
        account: name,
        protocol: account.protocol,
        reason: "within limits",
        outcome: "skipped",
      };
    }
    const { reason } = due;
    if (XRAY.has(account.protocol) && due.over === "quota") {
      const engine = this.xray.engine();
      if (engine && this.plan) {
        const t0 = performance.now();
        try {
          const known = this.tail?.sourcesOf(name) ?? [];
          const fast = await cutXrayNow(engine, this.plan, name, account.protocol, known);
          const landed = fast.timings["knownKilledMs"];
          if (known.length > 0 && landed !== undefined) {
            this.timing.measured(landed);
          }
          this.log.info(
            { user: name, ...fast, durationMs: Math.round((performance.now() - t0) * 10) / 10 },
            "over quota: removed from the engine and connections cut",
          );
        } catch (err) {
          this.log.warn({ err, user: name }, "fast cut failed; the full delete follows");
        }
      }
    }
    try {
      const report = await this.cut(name, reason);
      this.cuts++;
      if (report.complete) this.failures.delete(name);
      else this.noteFailure(name);
      this.limited.delete(name);
      return {
        account: name,
        protocol: account.protocol,
        reason,
        outcome: report.complete
          ? this.ctx.config.onLimit === "lock"
            ? "locked"
            : "deleted"
          : "partial",
        detail: report.steps
          .filter((s) => !s.ok)
          .map((s) => `${s.step}: ${s.detail}`)
          .join("; "),
      };
    } catch (err) {
      // Refused (deleted by hand meanwhile, not managed): stop trying, no loop.
      if (err instanceof OperatorError || err instanceof ApiError) {
        this.limited.delete(name);
        this.log.warn({ user: name, err: err.message }, "account over its limit cannot be cut");
        return {
          account: name,
          protocol: account.protocol,
          reason,
          outcome: "skipped",
          detail: err.message,
        };
      }
      this.noteFailure(name);
      this.log.error({ err, user: name }, "cutting an account failed; will retry");
      return {
        account: name,
        protocol: account.protocol,
        reason,
        outcome: "failed",
        detail: String(err),
      };
    }
  }

  private noteFailure(name: string): void {
    const attempts = (this.failures.get(name)?.attempts ?? 0) + 1;
    const wait = RETRY_MS[Math.min(attempts - 1, RETRY_MS.length - 1)] as number;
    this.failures.set(name, { attempts, nextAt: Date.now() + wait });
    // The retry itself (refreshes are a minute apart, the first retries sooner): the account
    // is read again, since a partial cut may have left it half there.
    setTimeout(() => {
      if (this.stopped) return;
      // Due now, even if this timer fired a hair before `nextAt` by the wall clock.
      const failure = this.failures.get(name);
      if (failure) failure.nextAt = 0;
      void this.refresh().then(() => this.sweep());
    }, wait).unref();
  }
}
