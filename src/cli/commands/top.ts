import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "../command.js";
import { loadConfig } from "../../config/config.js";
import { ControlClient } from "../../control/client.js";
import { UsageError } from "../../core/errors.js";
import type { AccountView, StatusView } from "../../control/api.js";
import { formatBytes, table } from "../format.js";
import { DEFAULT_RATE_WINDOW_MS, RateTracker, type Rate } from "../live/rates.js";
import {
  SORT_KEYS,
  renderTopFrame,
  sortRows,
  startsDescending,
  type SortKey,
  type TopRow,
} from "../live/top-frame.js";
import { FullScreen } from "../live/terminal.js";

/** Refresh interval bounds and default (ms). */
const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 1000;
const DEFAULT_INTERVAL_MS = 1000;

/** What one read of the worker gives: the rows with their rates, and the worker's status. */
type Snapshot = { at: Date; rows: TopRow[]; status: StatusView };

/**
 * `--interval`: `250ms`, `0.5s`, or a bare number of seconds as top(1) takes it.
 * @throws UsageError outside 100 ms-1 s
 */
export function parseInterval(text: string | undefined): number {
  if (text === undefined) return DEFAULT_INTERVAL_MS;
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  const ms = m ? Number(m[1]) * (m[2] === "ms" ? 1 : 1000) : NaN;
  if (!(ms >= MIN_INTERVAL_MS && ms <= MAX_INTERVAL_MS)) {
    throw new UsageError(
      `--interval "${text}" is not between 100ms and 1s`,
      "give it as 250ms, 0.5s or 1 (seconds)",
    );
  }
  return Math.round(ms);
}

function toRow(view: AccountView, rate: Rate | undefined): TopRow {
  return {
    name: view.username,
    protocol: view.protocol,
    state: view.state,
    present: view.present,
    uploadPerS: rate?.uploadPerS ?? null,
    downloadPerS: rate?.downloadPerS ?? null,
    todayBytes: view.daily_usage.total_bytes,
    totalBytes: view.total_usage.total_bytes,
    limitBytes: view.limit_bytes,
    percent: view.percent,
  };
}

/** Reads usage and status together and turns the totals into rates. */
function reader(client: ControlClient, tracker: RateTracker): () => Promise<Snapshot> {
  return async () => {
    const [status, usage] = await Promise.all([
      client.get<StatusView>("/v1/status"),
      client.get<{ accounts: AccountView[] }>("/v1/usage"),
    ]);
    const rates = tracker.update(
      performance.now(),
      usage.accounts.map((a) => ({
        name: a.username,
        uploadBytes: a.total_usage.upload_bytes,
        downloadBytes: a.total_usage.download_bytes,
      })),
    );
    return {
      at: new Date(),
      rows: usage.accounts.map((a) => toRow(a, rates.get(a.username))),
      status,
    };
  };
}

function engineText(status: StatusView): string {
  const { xray } = status;
  if (!xray.reachable) return "unreachable";
  return `${xray.flavor ?? "xray"} ok`;
}

function clockOf(at: Date): string {
  return at.toTimeString().slice(0, 8);
}

/** Plain lines for pipes and menus: one table, no escapes. */
function plainLines(snapshot: Snapshot): string[] {
  const rate = (v: number | null) => (v === null ? "-" : `${formatBytes(Math.round(v))}/s`);
  const rows = sortRows(snapshot.rows, "rate", true).map((r) => [
    r.name,
    r.protocol,
    rate(r.uploadPerS),
    rate(r.downloadPerS),
    formatBytes(r.todayBytes),
    formatBytes(r.totalBytes),
    r.limitBytes === null ? "unlimited" : `${formatBytes(r.limitBytes)} (${r.percent}%)`,
  ]);
  return table(["USER", "PROTOCOL", "UP/S", "DOWN/S", "TODAY", "TOTAL", "LIMIT"], rows);
}

function jsonSnapshot(snapshot: Snapshot, windowMs: number) {
  return {
    at: snapshot.at.toISOString(),
    rate_window_ms: windowMs,
    worker: snapshot.status.worker,
    accounts: sortRows(snapshot.rows, "rate", true).map((r) => ({
      username: r.name,
      protocol: r.protocol,
      state: r.state,
      present: r.present,
      upload_bytes_per_s: r.uploadPerS === null ? null : Math.round(r.uploadPerS),
      download_bytes_per_s: r.downloadPerS === null ? null : Math.round(r.downloadPerS),
      today_bytes: r.todayBytes,
      total_bytes: r.totalBytes,
      limit_bytes: r.limitBytes,
      percent: r.percent,
    })),
  };
}

/** Runs the full-screen view until q, Ctrl-C, SIGTERM or SIGHUP; resolves to the exit code. */
function runLive(read: () => Promise<Snapshot>, first: Snapshot, intervalMs: number) {
  const screen = new FullScreen(process.stdout, process.stdin.isTTY ? process.stdin : null);
  const color = !process.env.NO_COLOR && process.env.TERM !== "dumb";
  let snapshot = first;
  let problem: string | null = null;
  let sort: SortKey = "rate";
  let descending = startsDescending(sort);

  const render = () => {
    const { width, height } = screen.size;
    screen.draw(
      renderTopFrame({
        width,
        height,
        rows: snapshot.rows,
        sort,
        descending,
        intervalMs,
        clock: clockOf(snapshot.at),
        workerUptimeS: snapshot.status.worker.uptimeS,
        engine: engineText(snapshot.status),
        problem,
        color,
      }),
    );
  };

  return new Promise<number>((resolve, reject) => {
    let timer: NodeJS.Timeout | null = null;
    let done = false;
    const finish = (error?: unknown) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      process.stdout.removeListener("resize", onResize);
      for (const signal of SIGNALS) process.removeListener(signal, onSignal);
      screen.restore();
      if (error === undefined) resolve(0);
      else reject(error);
    };
    // A bug while drawing must still leave the terminal usable, then surface with its stack.
    const guarded = (fn: () => void) => {
      try {
        fn();
      } catch (err) {
        finish(err);
      }
    };
    const onResize = () => guarded(render);
    const onSignal = () => finish();
    const onKey = (key: string) =>
      guarded(() => {
        if (key === "q" || key === "Q" || key === "\x03" || key === "\x04") return finish();
        const chosen = SORT_KEYS.find((k) => k.letter === key.toLowerCase());
        if (!chosen) return;
        descending = chosen.key === sort ? !descending : startsDescending(chosen.key);
        sort = chosen.key;
        render();
      });
    const tick = async () => {
      try {
        snapshot = await read();
        problem = null;
      } catch (err) {
        // Keep the last figures on screen and say why they stopped moving; retry next tick.
        problem = `worker not answering: ${(err as Error).message}`;
      }
      if (done) return;
      guarded(render);
      if (!done) timer = setTimeout(() => void tick(), intervalMs);
    };

    process.stdout.on("resize", onResize);
    for (const signal of SIGNALS) process.on(signal, onSignal);
    screen.enter(onKey);
    guarded(render);
    timer = setTimeout(() => void tick(), intervalMs);
  });
}

const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

export const topCommand: Command = {
  name: "top",
  summary: "live full-screen table of every account's upload and download rate",
  help: `Usage: kuota top [--interval 1s] [--json]

Shows every account with its upload and download rate per second, today's and
total usage and its limit as a bar, refreshed every --interval (100ms to 1s,
default 1s). Rates are averaged over the last 2 s. The first line holds the
server's totals.

Keys: r rate, t total, d today, n name, p protocol (the same key again flips
the order), q or Ctrl-C quits and restores the terminal.

When stdout is not a terminal (a pipe, a menu script) it prints one plain table
with rates measured over 2 s, then exits; --json prints the same as JSON.

Exit codes: 0 ok, 1 worker down, 2 wrong usage.

Examples:
  kuota top
  kuota top --interval 250ms
  kuota top | head -5
  kuota top --json | jq '.accounts[0]'`,
  options: { interval: { type: "string", short: "i" } },
  async run({ values, out }) {
    const intervalMs = parseInterval(values.interval as string | undefined);
    const client = new ControlClient(loadConfig().socketPath, 5000);
    const read = reader(client, new RateTracker(DEFAULT_RATE_WINDOW_MS));
    // The first read happens before the screen is taken, so a stopped worker is a plain error.
    const first = await read();
    if (values.json || !process.stdout.isTTY) {
      await sleep(DEFAULT_RATE_WINDOW_MS);
      const snapshot = await read();
      if (values.json) out(JSON.stringify(jsonSnapshot(snapshot, DEFAULT_RATE_WINDOW_MS), null, 2));
      else for (const line of plainLines(snapshot)) out(line);
      return 0;
    }
    return runLive(read, first, intervalMs);
  },
};
