/**
 * Deduplicates hosts and writes them in batches: sightings are gathered for `flushMs` and written
 * in one store transaction, so thousands of connections a second cost a few transactions a
 * second. A host's first sighting appends `host|service|source_ip|YYYY-MM-DD HH:MM:SS` to
 * hosts.log; later ones only move its count and last-seen time in the store.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { localDateTime } from "../core/time.js";
import type { Logger } from "../core/log.js";
import type { HostRecord, HostSighting, HostStore } from "../store/host-store.js";

export interface HostRecorderOptions {
  store: HostStore;
  /** `<KUOTA_DATA_DIR>/hosts.log`. */
  hostsLog: string;
  log: Logger;
  /** Batch interval, ms. Default 200. */
  flushMs?: number;
  /** Distinct hosts held between flushes; more are dropped and counted. Default 100,000. */
  maxPending?: number;
}

/** One hosts.log line (no newline). */
export function hostsLogLine(host: HostRecord): string {
  return `${host.host}|${host.service}|${host.sourceIp}|${localDateTime(new Date(host.firstSeen))}`;
}

type Pending = HostSighting & { count: number; lastAt: string };

export class HostRecorder {
  readonly #options: Required<HostRecorderOptions>;
  /** Pending sightings by host; repeated hosts only raise the count. */
  #pending = new Map<string, Pending>();
  #state: Record<string, string> = {};
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> | null = null;
  #dropped = 0;
  #failures = 0;
  /** Hosts in the store, kept current after each flush (for status, which is synchronous). */
  hosts = 0;

  constructor(options: HostRecorderOptions) {
    this.#options = { flushMs: 200, maxPending: 100_000, ...options };
  }

  /** Sightings dropped because the store could not keep up (or kept failing). */
  get dropped(): number {
    return this.#dropped;
  }

  async start(): Promise<void> {
    this.hosts = await this.#options.store.countHosts();
    this.#timer = setInterval(() => void this.flush(), this.#options.flushMs);
  }

  /** Queues a sighting for the next batch. */
  add(sighting: HostSighting): void {
    const known = this.#pending.get(sighting.host);
    if (known !== undefined) {
      known.count++;
      if (sighting.at > known.lastAt) known.lastAt = sighting.at;
      if (sighting.at < known.at) known.at = sighting.at;
      known.account ??= sighting.account;
      return;
    }
    if (this.#pending.size >= this.#options.maxPending) {
      this.#dropped++;
      return;
    }
    this.#pending.set(sighting.host, { ...sighting, lastAt: sighting.at, count: 1 });
  }

  /** Collector state (e.g. a log position) written in the same transaction as the next batch. */
  setState(key: string, value: string): void {
    this.#state[key] = value;
  }

  /** Writes what is pending now; resolves when written (or when the write failed and was kept). */
  async flush(): Promise<void> {
    if (this.#flushing !== null) return this.#flushing;
    if (this.#pending.size === 0 && Object.keys(this.#state).length === 0) return;
    this.#flushing = this.#write().finally(() => (this.#flushing = null));
    return this.#flushing;
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.flush();
    await this.flush();
  }

  async #write(): Promise<void> {
    const batch = [...this.#pending.values()];
    const state = this.#state;
    this.#pending = new Map();
    this.#state = {};
    let added: HostRecord[] = [];
    try {
      await this.#options.store.recordSightings(batch, state, (fresh) => {
        added = fresh;
        // Inside the transaction: if the append fails nothing is recorded and the batch is kept.
        mkdirSync(dirname(this.#options.hostsLog), { recursive: true });
        appendFileSync(this.#options.hostsLog, fresh.map((h) => hostsLogLine(h) + "\n").join(""));
      });
      this.#failures = 0;
    } catch (err) {
      this.#failures++;
      this.#options.log.error(
        { err, hosts: batch.length, failures: this.#failures },
        "could not record hosts; retrying with the next batch",
      );
      this.#requeue(batch, state);
      return;
    }
    this.hosts += added.length;
    for (const h of added) {
      this.#options.log.info(
        {
          host: h.host,
          service: h.service,
          sourceIp: h.sourceIp,
          account: h.account,
          kind: h.kind,
        },
        "new host",
      );
    }
  }

  #requeue(batch: Pending[], state: Record<string, string>): void {
    if (this.#failures > 5) {
      this.#dropped += batch.reduce((n, s) => n + s.count, 0);
      return;
    }
    for (const s of batch) {
      const known = this.#pending.get(s.host);
      if (known !== undefined) {
        known.count += s.count;
        if (s.at < known.at) known.at = s.at;
        if (s.lastAt > known.lastAt) known.lastAt = s.lastAt;
      } else this.#pending.set(s.host, s);
    }
    this.#state = { ...state, ...this.#state };
  }
}
