import { EngineClient, detectFlavor } from "../../engine/engine-client.js";
import type { Flavor } from "../../engine/proto.js";
import { RestartDetector, type UptimeMark } from "./restart-detector.js";
import { EngineUnreachableError } from "../../core/errors.js";
import { localDate } from "../../core/time.js";
import type { Logger } from "../../core/log.js";
import type { CounterReading, Store, Usage } from "../../store/store.js";

const STAT = /^user>>>(.+)>>>traffic>>>(uplink|downlink)$/;
const STATE_KEY = "xray.uptime_mark";
/** Backoff bounds while the engine is unreachable (ms). */
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30_000;

/**
 * How often the engine's uptime mark is written while no counter moves (ms). It is written with
 * every poll that changes usage; an idle poll writes nothing, so the mark a restarted worker
 * compares against (by the wall clock) is at most this old.
 */
const MARK_PERSIST_MS = 60_000;

/** A counter name parsed: the account (lowercased email), the email as the engine spells it. */
type CounterName = (Pick<CounterReading, "account" | "direction"> & { email: string }) | null;
/** Parsed counter names: the same ~2 per account come back every poll. Bounded. */
const names = new Map<string, CounterName>();
const NAMES_MAX = 500_000;

function parseName(name: string): CounterName {
  let parsed = names.get(name);
  if (parsed !== undefined) return parsed;
  const m = STAT.exec(name);
  parsed = m
    ? {
        account: (m[1] as string).toLowerCase(),
        direction: m[2] === "uplink" ? "up" : "down",
        email: m[1] as string,
      }
    : null;
  if (names.size >= NAMES_MAX) names.clear();
  names.set(name, parsed);
  return parsed;
}

/**
 * Turns engine counters into store readings; the account is the lowercased email.
 * @param emails when given, records the engine's spelling of emails that are not lowercase
 *   (`Alice` for account `alice`), for {@link accountPattern}
 */
export function toReadings(
  stats: { name: string; value: number }[],
  emails?: Map<string, string>,
): CounterReading[] {
  const out: CounterReading[] = [];
  for (const s of stats) {
    const parsed = parseName(s.name);
    if (parsed === null) continue;
    if (emails && parsed.email !== parsed.account) emails.set(parsed.account, parsed.email);
    out.push({
      counter: s.name,
      account: parsed.account,
      direction: parsed.direction,
      raw: s.value,
    });
  }
  return out;
}

/**
 * The QueryStats pattern that reads one account's counters. The engine matches patterns as
 * case-sensitive substrings, so an email spelled `Alice` in the config is asked for as such;
 * the trailing ">>>" keeps "al" from matching "alice".
 */
export function accountPattern(account: string, emails: ReadonlyMap<string, string>): string {
  return `user>>>${emails.get(account) ?? account}>>>`;
}

export type XrayCollectorOptions = {
  address: string;
  flavor: "auto" | Flavor;
  pollMs: number;
  store: Store;
  log: Logger;
  /** Called with the accounts whose usage changed after each applied poll. */
  onUsage: (changed: Usage[]) => void;
  now?: () => Date;
};

export type XrayStatus = {
  reachable: boolean;
  flavor: Flavor | null;
  lastPollAt: string | null;
  lastPollMs: number | null;
  polls: number;
  restartsSeen: number;
  counters: number;
  /** Polls of single accounts near their limit (quota enforcement). */
  fastPolls: number;
};

/**
 * Reads every user counter without reset, on a fixed interval, and adds the deltas
 * against the last raw values to the store in one transaction. Reading without
 * reset is what makes a crash of kuota harmless: nothing is taken from the engine
 * until it is stored.
 */
export class XrayCollector {
  private client: EngineClient | null = null;
  private readonly detector = new RestartDetector();
  /** Emails the engine spells with capitals, by account: for the per-account fast poll. */
  private readonly emails = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private backoffMs = BACKOFF_MIN_MS;
  private unreachableLogged = false;
  private readonly now: () => Date;
  /** Serializes read + apply: an older reading applied after a newer one would look like a reset. */
  private lock: Promise<unknown> = Promise.resolve();
  /** When the uptime mark was last handed to the store (monotonic ms); -Infinity: never. */
  private markSavedAt = -Infinity;
  readonly status: XrayStatus = {
    reachable: false,
    flavor: null,
    lastPollAt: null,
    lastPollMs: null,
    polls: 0,
    restartsSeen: 0,
    counters: 0,
    fastPolls: 0,
  };

  constructor(private readonly opts: XrayCollectorOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  async start(): Promise<void> {
    const saved = await this.opts.store.getState(STATE_KEY);
    this.detector.restore(saved ? (JSON.parse(saved) as UptimeMark) : null);
    this.schedule(0);
  }

  /** Stops polling and waits for a poll in flight to be stored. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    this.client?.close();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => (this.running = null));
    }, delayMs);
  }

  private async tick(): Promise<void> {
    const started = performance.now();
    try {
      await this.pollOnce();
      this.backoffMs = BACKOFF_MIN_MS;
      const spent = performance.now() - started;
      this.schedule(Math.max(0, this.opts.pollMs - spent));
    } catch (err) {
      if (!(err instanceof EngineUnreachableError)) {
        this.opts.log.error({ err }, "xray poll failed");
      } else if (!this.unreachableLogged) {
        this.unreachableLogged = true;
        this.opts.log.warn(
          { address: this.opts.address, retryMs: this.backoffMs, err: err.message },
          "engine unreachable; retrying with backoff (counted usage is safe)",
        );
      }
      this.status.reachable = false;
      this.schedule(this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    }
  }

  private async connect(): Promise<EngineClient> {
    if (this.client) return this.client;
    const flavor =
      this.opts.flavor === "auto" ? await detectFlavor(this.opts.address) : this.opts.flavor;
    this.client = new EngineClient(this.opts.address, flavor);
    this.status.flavor = flavor;
    this.opts.log.info({ address: this.opts.address, flavor }, "engine connected");
    return this.client;
  }

  /** The connected engine client, for enforcement's fast cuts; null until connected. */
  engine(): EngineClient | null {
    return this.client;
  }

  private mark(uptime: number): UptimeMark {
    return { uptime, monoMs: performance.now(), wallMs: this.now().getTime() };
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** One poll of every account: uptime, counters, uptime again, then one store transaction. */
  pollOnce(): Promise<void> {
    return this.exclusive(() => this.poll(null));
  }

  /**
   * A poll of a few accounts only (quota enforcement reads accounts close to their
   * limit this way, every few ms), with the same restart detection and the same
   * baselines as the regular poll, which it never interleaves with.
   * @throws EngineUnreachableError / EngineError; the caller decides about retries
   */
  pollAccounts(names: string[]): Promise<void> {
    return this.exclusive(() => this.poll(names));
  }

  private async queryUsers(client: EngineClient, names: string[] | null) {
    if (names === null) return client.queryStats("user>>>");
    const parts = await Promise.all(
      names.map((n) => client.queryStats(accountPattern(n, this.emails))),
    );
    return parts.flat();
  }

  private async poll(names: string[] | null): Promise<void> {
    const client = await this.connect();
    const t0 = performance.now();
    const before = this.mark(await client.uptimeSeconds());
    const stats = await this.queryUsers(client, names);
    const after = this.mark(await client.uptimeSeconds());
    const verdict = this.detector.judge(before, after);
    if (this.unreachableLogged) {
      this.unreachableLogged = false;
      this.opts.log.info({ address: this.opts.address }, "engine reachable again");
    }
    this.status.reachable = true;
    if (verdict === "discard") {
      this.opts.log.warn("engine restarted during a poll; counting from the next one");
      return;
    }
    if (verdict === "restarted") {
      this.status.restartsSeen++;
      this.opts.log.warn(
        { uptimeS: before.uptime },
        "engine restarted; counting its new counters whole",
      );
    }
    const at = this.now();
    // Emails are matched case-insensitively by the engine; keep only the asked accounts.
    const wanted = names ? new Set(names) : null;
    const readings = toReadings(stats, names === null ? this.emails : undefined).filter(
      (r) => !wanted || wanted.has(r.account),
    );
    const saveMark =
      verdict === "restarted" || performance.now() - this.markSavedAt >= MARK_PERSIST_MS;
    const applied = await this.opts.store.applyCounters({
      source: "xray",
      readings,
      sourceRestarted: verdict === "restarted",
      day: localDate(at),
      at: at.toISOString(),
      ...(saveMark ? { state: { [STATE_KEY]: JSON.stringify(this.detector.mark) } } : {}),
    });
    if (saveMark) this.markSavedAt = performance.now();
    if (names === null) {
      this.status.polls++;
      this.status.counters = readings.length;
      this.status.lastPollAt = at.toISOString();
      this.status.lastPollMs = Math.round((performance.now() - t0) * 100) / 100;
    } else {
      this.status.fastPolls++;
    }
    if (applied.changed.length > 0) this.opts.onUsage(applied.changed);
  }
}
