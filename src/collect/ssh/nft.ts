import { execa, ExecaError } from "execa";
import { CommandFailedError, OperatorError } from "../../core/errors.js";
import type { CounterValue } from "./nft-ruleset.js";

/** Where and how `nft` runs. */
export interface NftOptions {
  /** Run inside this network namespace (`ip netns exec NAME nft ...`), for tests. Default: none. */
  netns?: string;
  /** The nft binary. Default `nft` from PATH. */
  binary?: string;
  /** Kill nft after this many ms. Default 10,000. */
  timeoutMs?: number;
}

/**
 * Runs `nft` as a child process: scripts on stdin (`nft -f -`, one atomic transaction each) and
 * JSON listings. Spawning costs a few ms per call; see bench/ssh for the measured read cost.
 */
export class Nft {
  readonly #command: string;
  readonly #prefix: string[];
  readonly #timeoutMs: number;

  constructor(options: NftOptions = {}) {
    const binary = options.binary ?? "nft";
    this.#command = options.netns ? "ip" : binary;
    this.#prefix = options.netns ? ["netns", "exec", options.netns, binary] : [];
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /**
   * Loads a script as one transaction. Throws OperatorError when nft is missing or lacks
   * CAP_NET_ADMIN, CommandFailedError (nft's message, execa error as `cause`) otherwise.
   */
  async run(script: string): Promise<void> {
    await this.#exec(["-f", "-"], script);
  }

  /**
   * Every named counter of a table, by name. An absent table gives an empty map.
   * @param table family and name, e.g. `inet kuota`
   */
  async readCounters(table: string): Promise<Map<string, CounterValue>> {
    const stdout = await this.#listing(["counters", "table"], table);
    return stdout === null ? new Map() : parseCounterListing(stdout);
  }

  /**
   * Every quota object of a table, by name: the bytes it allows and the bytes it has counted. An
   * absent table gives an empty map.
   */
  async readQuotas(table: string): Promise<Map<string, QuotaValue>> {
    const stdout = await this.#listing(["quotas", "table"], table);
    return stdout === null ? new Map() : parseQuotaListing(stdout);
  }

  /**
   * Counters and quota objects of a table from one listing (`nft -j list table`): both come from
   * the same kernel dump, a few µs apart, so what a counter and a quota counted can be compared.
   * An absent table gives empty maps.
   */
  async readCountersAndQuotas(
    table: string,
  ): Promise<{ counters: Map<string, CounterValue>; quotas: Map<string, QuotaValue> }> {
    const stdout = (await this.#listing(["table"], table)) ?? '{"nftables": []}';
    return { counters: parseCounterListing(stdout), quotas: parseQuotaListing(stdout) };
  }

  /** True if the table exists. */
  async hasTable(table: string): Promise<boolean> {
    try {
      await this.#exec(["list", "table", ...table.split(" ")]);
      return true;
    } catch (err) {
      if (isNoSuchObject(err)) return false;
      throw err;
    }
  }

  /** The JSON listing of one object, e.g. `["map", "inet", "kuota", "ssh_up4"]`. */
  async listJson(args: readonly string[]): Promise<unknown> {
    return JSON.parse(await this.#exec(["-j", "list", ...args])) as unknown;
  }

  /** `nft -j list WHAT... FAMILY NAME`, or null when the table is absent. */
  async #listing(what: string[], table: string): Promise<string | null> {
    try {
      return await this.#exec(["-j", "list", ...what, ...table.split(" ")]);
    } catch (err) {
      if (isNoSuchObject(err)) return null;
      throw err;
    }
  }

  async #exec(args: string[], input?: string): Promise<string> {
    const command = `nft ${args.join(" ")}`;
    try {
      const result = await execa(this.#command, [...this.#prefix, ...args], {
        input: input ?? "",
        timeout: this.#timeoutMs,
        stripFinalNewline: true,
      });
      return result.stdout;
    } catch (err) {
      throw explain(command, err);
    }
  }
}

/** True when nft failed because an object (table, element, counter) does not exist. */
export function isNoSuchObject(err: unknown): boolean {
  return err instanceof CommandFailedError && /No such file or directory/.test(err.message);
}

/** True when nft failed because an element or object already exists. */
export function isAlreadyThere(err: unknown): boolean {
  return err instanceof CommandFailedError && /File exists/.test(err.message);
}

/** Reads `nft -j list counters` output; objects other than counters are skipped. */
export function parseCounterListing(json: string): Map<string, CounterValue> {
  const counters = new Map<string, CounterValue>();
  const parsed = JSON.parse(json) as { nftables?: unknown };
  if (!Array.isArray(parsed.nftables)) return counters;
  for (const item of parsed.nftables as unknown[]) {
    if (typeof item !== "object" || item === null || !("counter" in item)) continue;
    const counter = (item as { counter: Record<string, unknown> }).counter;
    const { name, packets, bytes } = counter;
    if (typeof name === "string" && typeof packets === "number" && typeof bytes === "number") {
      counters.set(name, { packets, bytes });
    }
  }
  return counters;
}

/** A quota object as the kernel holds it (bytes). */
export interface QuotaValue {
  /** Bytes it allows (`over N bytes`). */
  bytes: number;
  /** Bytes it has counted since it was created. */
  used: number;
}

/** Reads `nft -j list quotas` output; other objects are skipped. */
export function parseQuotaListing(json: string): Map<string, QuotaValue> {
  const quotas = new Map<string, QuotaValue>();
  const parsed = JSON.parse(json) as { nftables?: unknown };
  if (!Array.isArray(parsed.nftables)) return quotas;
  for (const item of parsed.nftables as unknown[]) {
    if (typeof item !== "object" || item === null || !("quota" in item)) continue;
    const { name, bytes, used } = (item as { quota: Record<string, unknown> }).quota;
    if (typeof name === "string" && typeof bytes === "number") {
      quotas.set(name, { bytes, used: typeof used === "number" ? used : 0 });
    }
  }
  return quotas;
}

/** Turns an execa failure into the operator's next step or a CommandFailedError. */
function explain(command: string, err: unknown): Error {
  if (!(err instanceof ExecaError)) return err instanceof Error ? err : new Error(String(err));
  if (err.code === "ENOENT") {
    return new OperatorError(
      `${command.split(" ")[0]} is not installed or not in PATH`,
      "install nftables (`apt-get install nftables`) and restart the worker",
    );
  }
  const stderr = String(err.stderr ?? "").trim();
  if (/Operation not permitted/.test(stderr)) {
    return new OperatorError(
      "nft was refused: the worker lacks CAP_NET_ADMIN",
      "run the worker as root or give it CAP_NET_ADMIN (AmbientCapabilities=CAP_NET_ADMIN)",
    );
  }
  const detail = stderr.split("\n")[0] || err.shortMessage;
  return new CommandFailedError(command, detail, { cause: err });
}
